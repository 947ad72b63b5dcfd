#!/bin/sh
# seabios-linux.sh — boot the bench kit's Debian Linux guest through the
# firmware: SeaBIOS runs the test option ROM linuxboot.asm (fw_cfg
# genroms/), which loads the bzImage, initrd and command line from fw_cfg
# and starts the kernel through the 16-bit boot protocol.  The kernel then
# lives on what SeaBIOS left: its E820 map, its MP table (the timer on I/O
# APIC pin 2), its PIRQ routing.  Passes when the guest's /init prints
# GUEST-DONE (bench=boot) within UMBRA_LINUX_BOOT_TIMEOUT seconds (600).
#
#   seabios-linux.sh EMULATOR LINUXBOOT.bin GUEST_DIR
set -u
emu=$1 rom=$2 guest=$3
timeout_s=${UMBRA_LINUX_BOOT_TIMEOUT:-600}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$guest/bzImage" ] || [ ! -f "$guest/initrd.gz" ]; then
    echo "FAIL: no guest in $guest (the linux.guest fixture builds it)" >&2
    exit 1
fi
sh "$(dirname "$0")/rom-checksum.sh" "$rom" "$tmp/linuxboot.bin"
extra=
case ${emu##*/} in qemu*) extra="-net none" ;; esac
start=$(date +%s)
timeout "$timeout_s" "$emu" -m 256 -nographic -no-reboot $extra \
    -fw_cfg name=genroms/linuxboot.bin,file="$tmp/linuxboot.bin" \
    -fw_cfg name=opt/umbra/kernel,file="$guest/bzImage" \
    -fw_cfg name=opt/umbra/initrd,file="$guest/initrd.gz" \
    -fw_cfg "name=opt/umbra/cmdline,string=console=ttyS0 panic=-1 bench=boot" \
    </dev/null >"$tmp/out" 2>&1
rc=$?
secs=$(($(date +%s) - start))
tr -d '\r' <"$tmp/out" >"$tmp/text"
ok=1
for want in "SeaBIOS (version" "linuxboot: starting the kernel" "found SMP MP-table" \
    "TIMER: vector=0x30 apic1=0 pin1=2" "GUEST-DONE"; do
    grep -aqF "$want" "$tmp/text" || { echo "FAIL: no '$want' on the console" >&2; ok=0; }
done
if [ "$ok" = 1 ]; then
    echo "PASS: Linux booted through SeaBIOS to GUEST-DONE in ${secs}s (exit status $rc)"
    exit 0
fi
echo "exit status $rc after ${secs}s; console (last 60 lines):" >&2
tail -60 "$tmp/text" >&2
exit 1
