#!/bin/sh
# seabios-debugcon.sh — SeaBIOS's own debug log, read through -debugcon
# (port 0x402), says it found what Umbra offers: the fw_cfg interface and
# its DMA mode, the RAM from etc/e820 for -m 96, one CPU, the write-protected
# shadow copy ("Space available for UMB") and the boot failure at the end.
#
#   seabios-debugcon.sh UMBRA
set -u
umbra=$1
timeout_s=${UMBRA_FW_TIMEOUT:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '\000\000\000\000' >"$tmp/wait0"
timeout "$timeout_s" "$umbra" -nographic -no-reboot -m 96 -debugcon file:"$tmp/log" \
    -fw_cfg name=etc/boot-fail-wait,file="$tmp/wait0" </dev/null >/dev/null 2>&1
rc=$?
fail=0
[ "$rc" = 0 ] || { echo "FAIL: exit status $rc" >&2; fail=1; }
for want in "SeaBIOS (version" "Found QEMU fw_cfg" "QEMU fw_cfg DMA interface supported" \
    "qemu/e820: addr 0x0000000000000000 len 0x0000000006000000 [RAM]" \
    "Found 1 cpu(s) max supported 1 cpu(s)" "Copying MPTABLE" "Copying PIR" \
    "Space available for UMB" "No bootable device."; do
    if grep -qF "$want" "$tmp/log"; then
        echo "ok: $want"
    else
        echo "FAIL: SeaBIOS's log lacks '$want'" >&2
        fail=1
    fi
done
[ "$fail" = 0 ] || cat "$tmp/log" >&2
exit $fail
