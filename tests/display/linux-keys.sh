#!/bin/sh
# linux-keys.sh — display.linux_keys: the default guest's shell on the VGA
# text console, driven through the SDL window.  Under Xvfb, boot
#   umbra -m 256 -kernel bzImage -initrd initrd.gz
#         -append "console=ttyS0 console=tty0 loglevel=4" -display sdl
# (the last console= is /dev/console: the VGA with the PS/2 keyboard;
# loglevel=4 keeps late kernel warnings such as "hrtimer: interrupt took"
# on a loaded host from landing in the middle of the typed line), wait
# until the shell's prompt is in the window (X screenshots, VGA BIOS font),
# type `echo UMBRA$((6*7))` and Return with xdotool, and find both the
# typed line and the shell's answer UMBRA42 (computed by the shell, so it
# cannot be the echo of the typed line) in the window.  Then `poweroff -f`,
# typed the same way, must end Umbra with status 0.  Screenshots are kept
# as OUTDIR/prompt.png and OUTDIR/answer.png.
#
#   linux-keys.sh UMBRA GUEST_DIR VGA_REF OUTDIR
#
# $UMBRA_LINUX_BOOT_TIMEOUT (default 600) bounds the boot; exit 77 (skip)
# without Xvfb, xwd, xdotool or Debian's seabios package (the font).
set -u
umbra=$1 guest=$2 ref=$3 out=$4
rom=/usr/share/seabios/vgabios-stdvga.bin
[ -f "$rom" ] || { echo "linux-keys: $rom missing (apt install seabios): skipped" >&2; exit 77; }
for f in bzImage initrd.gz; do
    [ -s "$guest/$f" ] || { echo "linux-keys: $guest/$f missing (the build makes it)" >&2; exit 1; }
done
mkdir -p "$out"
rm -f "$out"/*.png "$out/root.xwd" "$out/serial.txt"
. "$(dirname "$0")/xvfb.sh"
boot_timeout=${UMBRA_LINUX_BOOT_TIMEOUT:-600}

fail() {
    echo "linux-keys: $*" >&2
    [ -s "$out/root.xwd" ] && "$ref" --xwd-to-png "$out/root.xwd" "$out/failed.png" &&
        echo "linux-keys: the last screenshot is $out/failed.png" >&2
    cat "$out/find.log" >&2 2>/dev/null
    echo "--- serial (last lines):" >&2
    tail -n 15 "$out/serial.txt" >&2
    exit 1
}

# wait_screen TEXT SECONDS: poll X screenshots until TEXT is in the window.
wait_screen() {
    t0=$(date +%s)
    while ! screen_has "$rom" "$1"; do
        kill -0 "$umbra_pid" 2>/dev/null || fail "umbra exited before \"$1\" was on the screen"
        [ $(($(date +%s) - t0)) -lt "$2" ] || fail "no \"$1\" on the screen within $2 s"
        sleep 2
    done
    cat "$out/find.log"
}

# type_line TEXT: keys into the Umbra window (focused; XTEST, as a user's
# keyboard), then Return.  Status of xdotool (nonzero if the window is gone
# before the last key's release: `poweroff -f` can be that quick).
type_line() {
    win=$(xdotool search --name '^Umbra' | head -1)
    [ -n "$win" ] || fail "no Umbra window"
    xdotool windowfocus --sync "$win" && xdotool type --delay 80 "$1" &&
        xdotool key --delay 80 Return
}

"$umbra" -m 256 -kernel "$guest/bzImage" -initrd "$guest/initrd.gz" \
    -append "console=ttyS0 console=tty0 loglevel=4" -display sdl </dev/null >"$out/serial.txt" 2>&1 &
umbra_pid=$!
start=$(date +%s)
wait_screen "umbra:/root#" "$boot_timeout"
echo "linux-keys: the prompt is in the window after $(($(date +%s) - start)) s"
"$ref" --xwd-to-png "$out/root.xwd" "$out/prompt.png"

type_line 'echo UMBRA$((6*7))' || fail "xdotool failed"
wait_screen 'umbra:/root# echo UMBRA$((6*7))' 60
wait_screen "UMBRA42" 60
"$ref" --xwd-to-png "$out/root.xwd" "$out/answer.png"

type_line 'poweroff -f' 2>"$out/xdotool.log"
t0=$(date +%s)
while kill -0 "$umbra_pid" 2>/dev/null; do
    [ $(($(date +%s) - t0)) -lt 120 ] || fail "umbra still running 120 s after 'poweroff -f'"
    sleep 0.5
done
rc=0
wait "$umbra_pid" || rc=$?
umbra_pid=
[ $rc -eq 0 ] || fail "umbra ended with status $rc after 'poweroff -f'"
grep -aq 'reboot: ' "$out/serial.txt" || fail "umbra ended, but the kernel did not power off"
echo "linux-keys: typed commands ran on the VGA console; 'poweroff -f' ended umbra with status 0"
