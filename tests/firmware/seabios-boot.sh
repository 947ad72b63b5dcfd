#!/bin/sh
# seabios-boot.sh — boot Umbra with no -kernel (so Debian's SeaBIOS runs from
# the reset vector) and no disks, and wait for what SeaBIOS prints on the
# serial console: its banner "SeaBIOS (version ...)" and, since nothing can
# be booted, "No bootable device."  Both must arrive, in that order, within
# the timeout (UMBRA_FW_TIMEOUT seconds, default 30), or the test fails.
#
#   seabios-boot.sh UMBRA [EXTRA UMBRA ARGS...]
#
# Prints the seconds from start to "No bootable device." on success.
set -u
umbra=$1
shift
timeout_s=${UMBRA_FW_TIMEOUT:-30}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

start=$(date +%s%N)
"$umbra" -nographic "$@" </dev/null >"$out" 2>&1 &
pid=$!
found=0
deadline=$((start + timeout_s * 1000000000))
while kill -0 "$pid" 2>/dev/null || [ "$found" = 0 ]; do
    if tr -d '\r' <"$out" | grep -q "No bootable device\."; then
        found=1
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        break # exited without the message
    fi
    [ "$(date +%s%N)" -lt "$deadline" ] || break
    sleep 0.05
done
end=$(date +%s%N)
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

text=$(tr -d '\r' <"$out")
if [ "$found" != 1 ]; then
    echo "FAIL: no \"No bootable device.\" within ${timeout_s}s; serial output was:" >&2
    printf '%s\n' "$text" | head -50 >&2
    exit 1
fi
# The banner must come first (SeaBIOS prints it before trying any device).
banner_line=$(printf '%s\n' "$text" | grep -n "SeaBIOS (version [^)]*)" | head -1 | cut -d: -f1)
nobd_line=$(printf '%s\n' "$text" | grep -n "No bootable device\." | head -1 | cut -d: -f1)
if [ -z "$banner_line" ] || [ "$banner_line" -gt "$nobd_line" ]; then
    echo "FAIL: no SeaBIOS banner before \"No bootable device.\"; serial output was:" >&2
    printf '%s\n' "$text" | head -50 >&2
    exit 1
fi
ms=$(((end - start) / 1000000))
echo "PASS: $(printf '%s\n' "$text" | grep -o "SeaBIOS (version [^)]*)" | head -1), \"No bootable device.\" after ${ms} ms"
