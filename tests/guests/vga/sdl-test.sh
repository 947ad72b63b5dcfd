#!/bin/sh
# sdl-test.sh — the SDL window shows the guest's screen: under Xvfb, boot
# the VGA guest with -display sdl, hold it on the mode 13h scene, take an X
# screenshot of the root window (xwd) and find the scene in it, each guest
# pixel a 2x2 block (320x200 opens at twice its size, nearest-neighbour).
#
#   sdl-test.sh UMBRA GUEST.elf VGA_REF OUTDIR
#
# Then types 'a' and Up into the window (xdotool) and checks the scan
# codes the guest reads from the 8042.  Exit 77 (skip) when Xvfb or xwd is
# not installed.
set -u
umbra=$1 guest=$2 ref=$3 out=$4
command -v Xvfb >/dev/null && command -v xwd >/dev/null || {
    echo "sdl-test: Xvfb/xwd not installed: skipped" >&2
    exit 77
}
mkdir -p "$out"
rm -f "$out"/shot-*.png "$out"/root.xwd "$out"/serial.txt "$out"/display
# -displayfd: Xvfb picks a free display number and writes it to fd 3.
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$out/display" 2>"$out/xvfb.log" &
xvfb=$!
umbra_pid=
cleanup() {
    [ -n "$umbra_pid" ] && kill "$umbra_pid" 2>/dev/null
    kill "$xvfb" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$out/display" ] && break; sleep 0.1; done
[ -s "$out/display" ] || { echo "sdl-test: Xvfb did not start" >&2; cat "$out/xvfb.log" >&2; exit 1; }
DISPLAY=:$(cat "$out/display")
export DISPLAY
unset WAYLAND_DISPLAY
"$umbra" -kernel "$guest" -display sdl -serial "file:$out/serial.txt" -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -device "screendump-port,iobase=0xe0,file=$out/shot-%d.png" -append hold=2 \
    </dev/null >"$out/umbra.log" 2>&1 &
umbra_pid=$!
# Wait for the guest to reach the held scene, then a few frames more.
for _ in $(seq 200); do grep -q "holding scene 2" "$out/serial.txt" 2>/dev/null && break; sleep 0.1; done
if ! grep -q "holding scene 2" "$out/serial.txt" 2>/dev/null; then
    echo "sdl-test: the guest never reached scene 2" >&2
    cat "$out/serial.txt" "$out/umbra.log" >&2
    exit 1
fi
sleep 1
xwd -root -silent >"$out/root.xwd" || exit 1
"$ref" --xwd 2 2 "$out/root.xwd" || exit 1
# Keys typed into the window reach the guest as scan codes (set 2 from the
# keyboard, translated to set 1 by the 8042): 'a' 1E/9E, Up E0 48/E0 C8.
if command -v xdotool >/dev/null; then
    win=$(xdotool search --sync --name '^Umbra' | head -1)
    xdotool windowfocus --sync "$win" key a key Up || exit 1
    for _ in $(seq 50); do grep -q "key c8" "$out/serial.txt" && break; sleep 0.1; done
    got=$(sed -n 's/^key //p' "$out/serial.txt" | tr -d '\r' | tr '\n' ' ')
    echo "sdl-test: keys seen by the guest: $got"
    [ "$got" = "1e 9e e0 48 e0 c8 " ] || { echo "sdl-test: want 1e 9e e0 48 e0 c8" >&2; exit 1; }
    # A click grabs the mouse (the button events after it reach the guest);
    # motion then arrives as PS/2 packets: a right move has dx > 0.
    eval "$(xdotool getwindowgeometry --shell "$win")"
    xdotool mousemove --sync $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 1 || exit 1
    sleep 0.5
    xdotool mousemove_relative --sync 40 0 || exit 1
    for _ in $(seq 50); do [ "$(grep -c '^aux' "$out/serial.txt")" -ge 4 ] && break; sleep 0.1; done
    aux=$(sed -n 's/^aux //p' "$out/serial.txt" | tr -d '\r' | tr '\n' ' ')
    echo "sdl-test: mouse bytes seen by the guest: $aux"
    # FA (the enable's ACK), then 3-byte packets; one must carry a positive
    # dx (byte 1 bit 4 clear, byte 2 non-zero).
    set -- $aux
    ok=0
    if [ "${1:-}" = fa ]; then
        shift
        while [ $# -ge 3 ]; do
            b=$((0x$1)) dx=$((0x$2))
            [ $((b & 0x08)) -ne 0 ] && [ $((b & 0x10)) -eq 0 ] && [ $dx -gt 0 ] && ok=1
            shift 3
        done
    fi
    [ $ok -eq 1 ] || { echo "sdl-test: no right-moving mouse packet" >&2; exit 1; }
else
    echo "sdl-test: xdotool not installed: keyboard part skipped" >&2
fi
