#!/bin/sh
# run-guest.sh — boot one guest test headless and judge it.
#
#   run-guest.sh [OPTIONS] EMULATOR GUEST.elf [EXPECTED|-] [APPEND...]
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
#
# Options (before EMULATOR), decided at run time because UMBRA_GUEST_EMU can
# switch the emulator after configuration; an emulator whose command name starts
# with "qemu" is QEMU, anything else is taken to be Umbra:
#   --umbra-args "ARGS"  extra emulator arguments for Umbra only (e.g. -mmu walk)
#   --qemu-args "ARGS"   extra emulator arguments for QEMU only (e.g. -cpu ...)
#   --umbra-append "W"   words added to -append for Umbra only (e.g. hw=1)
#   --umbra-only         the test is meaningless under QEMU: exit 77 (ctest SKIP)
set -u
umbra_args= qemu_args= umbra_append= umbra_only=0
while [ $# -gt 0 ]; do
    case $1 in
    --umbra-args) umbra_args=$2; shift 2 ;;
    --qemu-args) qemu_args=$2; shift 2 ;;
    --umbra-append) umbra_append=$2; shift 2 ;;
    --umbra-only) umbra_only=1; shift ;;
    *) break ;;
    esac
done
if [ $# -lt 2 ]; then
    echo "usage: $0 [--umbra-args ARGS] [--qemu-args ARGS] [--umbra-append WORDS] [--umbra-only] EMULATOR GUEST.elf [EXPECTED|-] [APPEND...]" >&2
    exit 2
fi
emu=${UMBRA_GUEST_EMU:-$1}
emu_cmd=${emu%% *}
is_qemu=0
case ${emu_cmd##*/} in qemu*) is_qemu=1 ;; esac
if [ $is_qemu -eq 1 ]; then
    extra=$qemu_args
    if [ $umbra_only -eq 1 ]; then
        echo "run-guest: skipped: this test is for Umbra only (emulator: $emu)" >&2
        exit 77
    fi
else
    extra=$umbra_args
fi
guest=$2
expected=${3:--}
shift 2
[ $# -gt 0 ] && shift
[ $is_qemu -eq 0 ] && [ -n "$umbra_append" ] && set -- "$@" $umbra_append
tmo=${UMBRA_GUEST_TIMEOUT:-30}
name=$(basename "$guest" .elf)

out=$(mktemp "${TMPDIR:-/tmp}/guest-$name.XXXXXX")
err=$(mktemp "${TMPDIR:-/tmp}/guest-$name.err.XXXXXX")
trap 'rm -f "$out" "$out.clean" "$err"' EXIT

set -- $emu $extra -kernel "$guest" -nographic -no-reboot \
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
