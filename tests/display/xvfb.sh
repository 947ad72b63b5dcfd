# xvfb.sh — sourced by the display tests: start Xvfb on a free display
# (-displayfd), export DISPLAY, and stop it (and $umbra_pid) on exit.
# Needs $out (a directory for its logs).  Exit 77 (skip) when Xvfb, xwd or
# xdotool is not installed.
for t in Xvfb xwd xdotool; do
    command -v "$t" >/dev/null || { echo "display: $t not installed: skipped" >&2; exit 77; }
done
rm -f "$out/display"
Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$out/display" 2>"$out/xvfb.log" &
xvfb_pid=$!
umbra_pid=
xvfb_cleanup() {
    [ -n "$umbra_pid" ] && kill -KILL "$umbra_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
    wait 2>/dev/null
}
trap xvfb_cleanup EXIT
trap 'exit 143' INT TERM
for _ in $(seq 100); do [ -s "$out/display" ] && break; sleep 0.1; done
[ -s "$out/display" ] || { echo "display: Xvfb did not start" >&2; cat "$out/xvfb.log" >&2; exit 1; }
DISPLAY=:$(cat "$out/display")
export DISPLAY
unset WAYLAND_DISPLAY

# window_scale: the integer scale of the 720x400 text screen in the Umbra
# window (the window keeps the aspect and uses whole multiples when they fit).
window_scale() {
    win=$(xdotool search --name '^Umbra' | head -1)
    [ -n "$win" ] || { echo 0; return; }
    eval "$(xdotool getwindowgeometry --shell "$win")"
    sx=$((WIDTH / 720)) sy=$((HEIGHT / 400))
    s=$((sx < sy ? sx : sy))
    echo $((s < 1 ? 1 : s))
}

# screen_has ROM TEXT: take an X screenshot (root window) into
# $out/root.xwd and look for TEXT in it at the window's scale.
screen_has() {
    xwd -root -silent >"$out/root.xwd" 2>/dev/null || return 1
    "$ref" --find-text "$1" "$out/root.xwd" "$2" "$(window_scale)" >"$out/find.log" 2>&1
}
