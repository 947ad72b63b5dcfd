#!/bin/sh
# vga-test.sh — boot the VGA guest under Umbra with the screendump port,
# then compare every screendump with the reference computed by vga_ref.
#
#   vga-test.sh UMBRA GUEST.elf VGA_REF OUTDIR [extra umbra args...]
#
# Screendumps and references stay in OUTDIR (shot-N.png, ref-N.png) for
# inspection.  A hang is a failure (UMBRA_GUEST_TIMEOUT, default 60 s).
set -u
umbra=$1 guest=$2 ref=$3 out=$4
shift 4
mkdir -p "$out"
rm -f "$out"/shot-*.png "$out"/ref-*.png
tmo=${UMBRA_GUEST_TIMEOUT:-60}
timeout -k 5 "$tmo" "$umbra" -kernel "$guest" -nographic -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -device "screendump-port,iobase=0xe0,file=$out/shot-%d.png" "$@" </dev/null >"$out/serial.txt" 2>&1
status=$?
cat "$out/serial.txt"
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    echo "vga-test: TIMEOUT after ${tmo}s" >&2
    exit 1
fi
if [ $status -ne 1 ] || ! grep -q '^PASS vga' "$out/serial.txt"; then
    echo "vga-test: the guest failed (exit status $status)" >&2
    exit 1
fi
fail=0
for n in 0 1 2 3 4 5 6; do
    if [ ! -f "$out/shot-$n.png" ]; then
        echo "vga-test: no screendump $n" >&2
        fail=1
        continue
    fi
    "$ref" "$n" "$out/shot-$n.png" "$out/ref-$n.png" || fail=1
done
exit $fail
