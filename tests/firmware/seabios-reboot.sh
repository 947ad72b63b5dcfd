#!/bin/sh
# seabios-reboot.sh — SeaBIOS's reboot after "No bootable device." when told
# to wait 0 ms (fw_cfg etc/boot-fail-wait, as QEMU's -boot reboot-timeout=0
# sets it): the reset must bring back the ROM (PAM returns to its power-on
# state) so that POST runs again and prints its banner a second time; with
# -no-reboot the same reset must end the run with status 0 (not a triple
# fault: SeaBIOS faults on purpose right after writing 0xcf9).
#
#   seabios-reboot.sh UMBRA
set -u
umbra=$1
timeout_s=${UMBRA_FW_TIMEOUT:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '\000\000\000\000' >"$tmp/wait0"
fail=0

# 1. Rebooting: at least three POSTs within the timeout.
"$umbra" -nographic -fw_cfg name=etc/boot-fail-wait,file="$tmp/wait0" </dev/null \
    >"$tmp/out" 2>&1 &
pid=$!
end=$(($(date +%s) + timeout_s))
n=0
while [ "$(date +%s)" -le "$end" ] && kill -0 "$pid" 2>/dev/null; do
    n=$(tr -d '\r' <"$tmp/out" | grep -a -o "SeaBIOS (version" | wc -l)
    [ "$n" -ge 3 ] && break
    sleep 0.1
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ "$n" -ge 3 ]; then
    echo "ok: SeaBIOS rebooted and ran POST again ($n banners)"
else
    echo "FAIL: $n SeaBIOS banners, want at least 3 (reboots); output:" >&2
    tr -d '\r' <"$tmp/out" | head -30 >&2
    fail=1
fi

# 2. -no-reboot: the reset ends the run cleanly.
timeout "$timeout_s" "$umbra" -nographic -no-reboot \
    -fw_cfg name=etc/boot-fail-wait,file="$tmp/wait0" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
n=$(tr -d '\r' <"$tmp/out" | grep -a -o "SeaBIOS (version" | wc -l)
if [ "$rc" = 0 ] && [ "$n" = 1 ] && ! [ -s "$tmp/err" ]; then
    echo "ok: -no-reboot ends at SeaBIOS's reset with status 0"
else
    echo "FAIL: -no-reboot: status $rc, $n banners, stderr:" >&2
    cat "$tmp/err" >&2
    fail=1
fi
exit $fail
