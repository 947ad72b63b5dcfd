#!/bin/sh
# linux-vga-test.sh — a real OS on the VGA: boot the Linux guest of the
# bench kit with its console on the VGA text screen too (console=tty0), save
# the screen as PNG when it powers off, and find the kernel's last message
# on it, rendered with the VGA BIOS's font (the one Umbra loads into plane 2
# for boots without firmware).
#
#   linux-vga-test.sh UMBRA GUEST_DIR VGA_REF OUTDIR
#
# Exit 77 (skip) without Debian's seabios package (no font to compare with).
set -u
umbra=$1 guest=$2 ref=$3 out=$4
rom=/usr/share/seabios/vgabios-stdvga.bin
[ -f "$rom" ] || { echo "linux-vga: $rom missing (apt install seabios): skipped" >&2; exit 77; }
mkdir -p "$out"
rm -f "$out/screen.png"
timeout -k 5 "${UMBRA_LINUX_TIMEOUT:-600}" "$umbra" -m 256 -kernel "$guest/bzImage" \
    -initrd "$guest/initrd.gz" -append "console=tty0 console=ttyS0 panic=-1 bench=boot" \
    -nographic -screendump-on-exit "$out/screen.png" </dev/null >"$out/serial.txt" 2>&1
status=$?
tail -3 "$out/serial.txt"
grep -q '^GUEST-DONE' "$out/serial.txt" || { echo "linux-vga: no GUEST-DONE (status $status)" >&2; exit 1; }
"$ref" --find-text "$rom" "$out/screen.png" "reboot: System halted"
