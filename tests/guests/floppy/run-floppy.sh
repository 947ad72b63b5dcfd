#!/bin/sh
# run-floppy.sh — the floppy guest test: make the image, boot the guest with
# it in drive A, check the image afterwards.
#
#   run-floppy.sh rw|ro RUN-GUEST.sh FDIMAGE EMULATOR GUEST.elf
#
# rw: the guest rewrites one sector; exactly that sector must have changed.
# ro: the image file is read-only, so the drive is write-protected: the
#     guest's WRITE DATA must fail and the image stay as made.
set -u
[ $# -eq 5 ] || { echo "usage: $0 rw|ro RUN-GUEST.sh FDIMAGE EMULATOR GUEST.elf" >&2; exit 2; }
variant=$1 run_guest=$2 fdimage=$3 emu=$4 elf=$5
dir=$(mktemp -d "${TMPDIR:-/tmp}/floppy-test.XXXXXX")
trap 'chmod -R u+w "$dir"; rm -rf "$dir"' EXIT
img=$dir/floppy.img
"$fdimage" make "$img" || exit 1
append=
qemu_ro=
if [ "$variant" = ro ]; then
    chmod a-w "$img"
    append=ro=1
    qemu_ro=,readonly=on
fi
"$run_guest" --umbra-args "-fda $img" --umbra-append hw=1 \
    --qemu-args "-drive file=$img,if=floppy,format=raw$qemu_ro" \
    "$emu" "$elf" - $append || exit 1
if [ "$variant" = ro ]; then
    "$fdimage" check "$img" || exit 1
else
    "$fdimage" check "$img" w || exit 1
fi
