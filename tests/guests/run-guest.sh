#!/bin/sh
# run-guest.sh — boot one guest test headless and judge it.
#
#   run-guest.sh EMULATOR GUEST.elf [EXPECTED|-] [APPEND...]
#
# Runs EMULATOR (umbra, or anything with QEMU's command line; the environment
# variable UMBRA_GUEST_EMU overrides the argument, e.g.
# UMBRA_GUEST_EMU=qemu-system-i386) with the guest as a multiboot -kernel, COM1 on
# stdout and the isa-debug-exit port at 0xf4, under a hard timeout
# (UMBRA_GUEST_TIMEOUT seconds, default 30; a hang is a failure). The guest must
# exit with V=0, i.e. status 1, and print a "PASS ..." line. Serial output before the runtime's start marker
# (firmware banners) is dropped. If EXPECTED is given, the serial output (with
# CRs removed) must equal that file exactly; a diff is printed otherwise.
# Remaining arguments are joined into -append.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 EMULATOR GUEST.elf [EXPECTED|-] [APPEND...]" >&2
    exit 2
fi
emu=${UMBRA_GUEST_EMU:-$1}
guest=$2
expected=${3:--}
shift 2
[ $# -gt 0 ] && shift
tmo=${UMBRA_GUEST_TIMEOUT:-30}
name=$(basename "$guest" .elf)

out=$(mktemp "${TMPDIR:-/tmp}/guest-$name.XXXXXX")
err=$(mktemp "${TMPDIR:-/tmp}/guest-$name.err.XXXXXX")
trap 'rm -f "$out" "$out.clean" "$err"' EXIT

set -- $emu -kernel "$guest" -nographic -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 ${*:+-append "$*"}
echo "run-guest: $*" >&2
timeout -k 5 "$tmo" "$@" </dev/null >"$out" 2>"$err"
status=$?
# Keep only what follows the guest runtime's start marker (firmware may have
# written to COM1 before the guest ran).
tr -d '\r' <"$out" | sed -n '/=== guest start ===$/,$p' | sed 1d >"$out.clean"
marker=1
if ! grep -q '=== guest start ===$' "$out"; then
    echo "run-guest: $name: no guest start marker on the serial port; raw output:" >&2
    cat "$out" >&2
    marker=0
fi
cat "$out.clean"
if [ -s "$err" ]; then
    echo "---- emulator stderr ----" >&2
    cat "$err" >&2
fi

if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    echo "run-guest: $name: TIMEOUT after ${tmo}s (a hang is a failure)" >&2
    exit 1
fi
if [ $status -ne 1 ]; then
    if [ $status -eq 3 ]; then
        echo "run-guest: $name: guest reported failure (exit status 3)" >&2
    else
        echo "run-guest: $name: unexpected exit status $status (want 1)" >&2
    fi
    exit 1
fi
# Status 1 is also what QEMU returns on its own errors: insist on the guest's
# start marker and its PASS line too.
if [ $marker -eq 0 ] || ! grep -q "^PASS " "$out.clean"; then
    echo "run-guest: $name: exit status 1 but no start marker / PASS line: not a guest success" >&2
    exit 1
fi
if [ "$expected" != "-" ]; then
    if ! diff -u "$expected" "$out.clean" >&2; then
        echo "run-guest: $name: serial output differs from $expected (- expected, + got)" >&2
        exit 1
    fi
fi
echo "run-guest: $name: ok" >&2
exit 0
