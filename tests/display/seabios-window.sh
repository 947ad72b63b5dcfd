#!/bin/sh
# seabios-window.sh — display.seabios_window: SeaBIOS and its VGA BIOS in the
# SDL window.  Under Xvfb, `umbra -bios bios-256k.bin -display sdl` with no
# disk; X screenshots of the root window (xwd) are taken until SeaBIOS's
# "No bootable device." is in the window, drawn with the VGA BIOS's font at
# the window's scale, and then "SeaBIOS (version" must be there too.  The
# last screenshot is kept as OUTDIR/seabios-window.png.  Then the window is
# resized to 1440x800 and the text must be there at 2x (seabios-window-2x.png).
#
#   seabios-window.sh UMBRA VGA_REF OUTDIR
#
# SeaBIOS waits 60 s (etc/boot-fail-wait) before it would retry; the test
# kills Umbra once it has its picture.  Exit 77 (skip) without Xvfb, xwd,
# xdotool or Debian's seabios package.
set -u
umbra=$1 ref=$2 out=$3
rom=/usr/share/seabios/vgabios-stdvga.bin
[ -f "$rom" ] || { echo "seabios-window: $rom missing (apt install seabios): skipped" >&2; exit 77; }
mkdir -p "$out"
rm -f "$out/seabios-window.png" "$out/root.xwd"
. "$(dirname "$0")/xvfb.sh"
printf '\140\352\000\000' >"$out/wait60s" # 60000 ms, little-endian
"$umbra" -bios bios-256k.bin -display sdl -no-reboot \
    -fw_cfg name=etc/boot-fail-wait,file="$out/wait60s" </dev/null >"$out/umbra.log" 2>&1 &
umbra_pid=$!
found=0
for _ in $(seq 90); do
    kill -0 "$umbra_pid" 2>/dev/null || break
    if screen_has "$rom" "No bootable device."; then found=1; break; fi
    sleep 0.5
done
[ -s "$out/root.xwd" ] && "$ref" --xwd-to-png "$out/root.xwd" "$out/seabios-window.png"
if [ $found = 0 ]; then
    echo "seabios-window: \"No bootable device.\" never appeared in the window" >&2
    cat "$out/find.log" "$out/umbra.log" >&2
    exit 1
fi
cat "$out/find.log"
kill -0 "$umbra_pid" 2>/dev/null || { echo "seabios-window: umbra is gone" >&2; exit 1; }
"$ref" --find-text "$rom" "$out/root.xwd" "SeaBIOS (version" "$(window_scale)" || exit 1
# A window resized to twice the screen shows each pixel as a 2x2 block.
win=$(xdotool search --name '^Umbra' | head -1)
xdotool windowsize --sync "$win" 1440 800 || exit 1
found=0
for _ in $(seq 20); do
    if [ "$(window_scale)" = 2 ] && screen_has "$rom" "No bootable device."; then found=1; break; fi
    sleep 0.5
done
"$ref" --xwd-to-png "$out/root.xwd" "$out/seabios-window-2x.png"
[ $found = 1 ] || { echo "seabios-window: not found at 2x after resizing the window" >&2; cat "$out/find.log" >&2; exit 1; }
cat "$out/find.log"
# With a window SeaBIOS's console stays off the serial port (stdio here).
echo "seabios-window: $(wc -c <"$out/umbra.log") bytes arrived on the serial port"
echo "seabios-window: SeaBIOS's messages are in the window ($out/seabios-window.png)"
