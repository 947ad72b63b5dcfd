#!/bin/sh
# seabios-vga.sh — SeaBIOS runs Debian's VGA BIOS (vgabios-stdvga.bin) from
# the standard VGA's PCI expansion ROM BAR and prints its boot messages on
# the VGA text screen: boot with no disk, let SeaBIOS give up at once
# (etc/boot-fail-wait = 0) and reset, which ends the run under -no-reboot
# with a screendump; the message must be on the screen, drawn with the VGA
# BIOS's own font (which only the VGA BIOS loads into plane 2 here).
#
#   seabios-vga.sh UMBRA VGA_REF
set -u
umbra=$1 ref=$2
rom=/usr/share/seabios/vgabios-stdvga.bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '\000\000\000\000' >"$tmp/wait0"
timeout 60 "$umbra" -bios bios-256k.bin -display none -no-reboot \
    -fw_cfg name=etc/boot-fail-wait,file="$tmp/wait0" \
    -screendump-on-exit "$tmp/screen.png" </dev/null >"$tmp/serial.txt" 2>&1
rc=$?
[ "$rc" = 0 ] || { echo "seabios-vga: exit status $rc" >&2; cat "$tmp/serial.txt" >&2; exit 1; }
[ -s "$tmp/screen.png" ] || { echo "seabios-vga: no screendump" >&2; exit 1; }
"$ref" --find-text "$rom" "$tmp/screen.png" "No bootable device." || exit 1
"$ref" --find-text "$rom" "$tmp/screen.png" "SeaBIOS (version" || exit 1
echo "seabios-vga: SeaBIOS's messages are on the VGA text screen"
