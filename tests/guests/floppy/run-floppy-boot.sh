#!/bin/sh
# run-floppy-boot.sh — the floppy-boot acceptance test: firmware (SeaBIOS)
# boots bootsector.asm from drive A; the boot sector reads and writes through
# INT 13h, prints through INT 10h and on COM1, and exits through the
# isa-debug-exit port.  Afterwards the image must hold exactly its write.
#
#   run-floppy-boot.sh FDIMAGE BOOTSECTOR.bin EMULATOR [EXTRA ARGS...]
#
# The emulator is run without -kernel, so it boots its firmware, and
# without -boot: the default order ("cad") tries the floppy first (QEMU's
# command line, which Umbra follows), under a hard timeout
# (UMBRA_GUEST_TIMEOUT seconds, default 30): a hang is a failure.
set -u
[ $# -ge 3 ] || { echo "usage: $0 FDIMAGE BOOTSECTOR.bin EMULATOR [ARGS...]" >&2; exit 2; }
fdimage=$1 boot=$2 emu=${UMBRA_GUEST_EMU:-$3}
shift 3
tmo=${UMBRA_GUEST_TIMEOUT:-30}
dir=$(mktemp -d "${TMPDIR:-/tmp}/floppy-boot.XXXXXX")
trap 'rm -rf "$dir"' EXIT
img=$dir/boot.img
"$fdimage" bootmake "$boot" "$img" || exit 1
case ${emu##*/} in
qemu*) drive="-drive file=$img,if=floppy,format=raw" ;;
*) drive="-fda $img" ;;
esac
set -- $emu $drive -nographic -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 "$@"
echo "run-floppy-boot: $*" >&2
timeout -k 5 "$tmo" "$@" </dev/null >"$dir/out" 2>"$dir/err"
status=$?
tr -d '\r' <"$dir/out" | sed -n '/=== guest start ===$/,$p' | sed 1d
[ -s "$dir/err" ] && { echo "---- emulator stderr ----" >&2; cat "$dir/err" >&2; }
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    echo "run-floppy-boot: TIMEOUT after ${tmo}s (a hang is a failure); raw output:" >&2
    cat "$dir/out" >&2
    exit 1
fi
if [ $status -ne 1 ] || ! tr -d '\r' <"$dir/out" | grep -q '^PASS floppy_boot$'; then
    echo "run-floppy-boot: exit status $status (want 1) or no PASS line; raw output:" >&2
    cat "$dir/out" >&2
    exit 1
fi
"$fdimage" bootcheck "$img" || exit 1
echo "run-floppy-boot: ok" >&2
