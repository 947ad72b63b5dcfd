#!/bin/sh
# optionrom-boot.sh — hand SeaBIOS the test option ROM (optionrom.asm) as
# fw_cfg file genroms/umbra-test.bin and let it boot it: the ROM checks the
# state the firmware leaves for an OS loader and reports through serial and
# the isa-debug-exit port.  Passes when the emulator exits with status 1
# (all checks passed) and the ROM's PASS line is on the serial console,
# within UMBRA_FW_TIMEOUT seconds (default 30).
#
#   optionrom-boot.sh EMULATOR ROM.bin
#
# EMULATOR may be qemu-system-i386 too (the same command line works there;
# -net none keeps iPXE from booting first), to check the test itself.
set -u
emu=$1 rom=$2
timeout_s=${UMBRA_FW_TIMEOUT:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sh "$(dirname "$0")/rom-checksum.sh" "$rom" "$tmp/rom.bin"

extra=
case ${emu##*/} in qemu*) extra="-net none" ;; esac
timeout "$timeout_s" "$emu" -nographic -m 128 $extra \
    -fw_cfg name=genroms/umbra-test.bin,file="$tmp/rom.bin" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >"$tmp/out" 2>&1
rc=$?
tr -d '\r' <"$tmp/out" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' >"$tmp/text"
if [ "$rc" = 1 ] && grep -q "^PASS option ROM" "$tmp/text"; then
    grep "^PASS option ROM" "$tmp/text"
    exit 0
fi
if [ "$rc" = 124 ]; then
    echo "FAIL: no exit within ${timeout_s}s" >&2
else
    echo "FAIL: exit status $rc (check $(((rc - 1) / 2)) failed if odd)" >&2
fi
cat "$tmp/text" >&2
exit 1
