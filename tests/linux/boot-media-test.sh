#!/usr/bin/env bash
# boot-media-test.sh — the Linux guest booted by the firmware from real boot
# media, built from the bench guest (bzImage, initrd.gz) with Debian's tools:
#
#   boot-media-test.sh disk KIT GUEST WORK UMBRA...
#       KIT/make-disk.sh (the bench kit's own: SYSLINUX on a FAT16 superfloppy,
#       "console=ttyS0 quiet panic=-1 bench=boot") builds WORK/disk.img; it is
#       booted as run.sh --disk boots it, UMBRA -m 256 -hda IMG -nographic,
#       plus -snapshot: SeaBIOS says "Booting from Hard Disk", SYSLINUX's
#       banner appears, the guest reaches GUEST-READY, GUEST-RESULT boot and
#       GUEST-DONE, and the image's sha256 is unchanged afterwards.
#   boot-media-test.sh cdrom GUEST WORK UMBRA...
#       xorriso + ISOLINUX (packages xorriso, isolinux, syslinux-common) build
#       an El Torito ISO (no-emulation boot image) WORK/guest.iso with the
#       same kernel, initrd and command line; UMBRA -m 256 -cdrom ISO -boot d
#       -nographic: "Booting from DVD/CD", ISOLINUX's banner, GUEST-DONE.
#   boot-media-test.sh order KIT GUEST WORK UMBRA...
#       a disk (SYSLINUX), a CD (ISOLINUX) and a floppy (SYSLINUX saying
#       UMBRA-FLOPPY-BOOT) attached together: which boots is read from
#       SeaBIOS's "Booting from" lines (all of them, in order) and the
#       loader's banner, for no -boot (QEMU's default "cad": the disk),
#       -boot d, order=dc, order=cd, a, order=adc, order=dac, -boot order=dc
#       with a CD without an El Torito boot record (SeaBIOS tries it, then
#       boots the disk), and a "bootorder" file given with -fw_cfg that
#       names the CD (it replaces the one -boot makes); and a CD whose El
#       Torito boot image is that floppy (1.44 MB floppy emulation).  Each run
#       stops at the loader's banner.
#
# Every run has a time limit ($UMBRA_LINUX_BOOT_TIMEOUT s, default 600); a
# run that misses its marker fails with the end of its serial log.  Times
# (start to each marker) are printed, from the host's clock.
set -euo pipefail

die() { printf 'boot-media-test: %s\n' "$*" >&2; exit 1; }
[[ $# -ge 4 ]] || die "usage: $0 {disk|order} KIT GUEST WORK UMBRA... | cdrom GUEST WORK UMBRA..."
mode=$1
shift
case $mode in
disk | order) kit=$1; shift ;;
cdrom) kit="" ;;
*) die "unknown mode '$mode'" ;;
esac
guest=$1 work=$2
shift 2
umbra=("$@")
[[ ${#umbra[@]} -ge 1 ]] || die "no emulator given"
timeout_s=${UMBRA_LINUX_BOOT_TIMEOUT:-600}
for f in bzImage initrd.gz; do
	[[ -s $guest/$f ]] || die "$guest/$f missing: the linux.guest test builds it"
done

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		sleep 0.5
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# make_disk: WORK/disk.img by the kit's make-disk.sh, which takes a guest
# directory and writes disk.img (and a transient syslinux.cfg) into it -- so
# it gets a directory of its own holding links to the guest's kernel/initrd.
make_disk() {
	[[ -x $kit/make-disk.sh ]] ||
		die "bench kit's make-disk.sh not found in '$kit' (configure with -DUMBRA_BENCH_KIT=DIR)"
	mkdir -p "$work"
	ln -sf "$(realpath "$guest/bzImage")" "$work/bzImage"
	ln -sf "$(realpath "$guest/initrd.gz")" "$work/initrd.gz"
	rm -f "$work/disk.img"
	"$kit/make-disk.sh" "$work" boot || die "make-disk.sh failed"
	[[ -s $work/disk.img ]] || die "make-disk.sh left no $work/disk.img"
}

# make_iso NAME BOOTABLE: WORK/NAME, an ISO 9660 image with the kernel and
# initrd; BOOTABLE=1 adds ISOLINUX as its El Torito no-emulation boot image.
make_iso() {
	local name=$1 bootable=$2 tree=$work/tree-${1%.iso}
	command -v xorriso >/dev/null || die "xorriso not found (package xorriso)"
	local isobin=/usr/lib/ISOLINUX/isolinux.bin ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
	[[ -f $isobin ]] || die "$isobin not found (package isolinux)"
	[[ -f $ldlinux ]] || die "$ldlinux not found (package syslinux-common)"
	rm -rf "$tree"
	mkdir -p "$tree/isolinux"
	cp "$guest/bzImage" "$guest/initrd.gz" "$tree/"
	local boot=()
	if [[ $bootable == 1 ]]; then
		cp "$isobin" "$ldlinux" "$tree/isolinux/"
		cat >"$tree/isolinux/isolinux.cfg" <<-EOF
			SERIAL 0 115200
			PROMPT 0
			TIMEOUT 0
			DEFAULT linux
			LABEL linux
			  KERNEL /bzImage
			  INITRD /initrd.gz
			  APPEND console=ttyS0 quiet panic=-1 bench=boot
		EOF
		boot=(-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot
			-boot-load-size 4 -boot-info-table)
	fi
	rm -f "$work/$name"
	xorriso -as mkisofs -quiet -o "$work/$name" -V UMBRA-BOOT "${boot[@]}" "$tree" ||
		die "xorriso failed"
	rm -rf "$tree"
}

# make_floppy: WORK/floppy.img, a 1.44 MB FAT12 floppy with SYSLINUX whose
# configuration only says UMBRA-FLOPPY-BOOT on the serial port and waits.
make_floppy() {
	for t in mkfs.fat mcopy syslinux; do
		command -v "$t" >/dev/null || die "$t not found (packages dosfstools, mtools, syslinux)"
	done
	local img=$work/floppy.img
	rm -f "$img"
	mkfs.fat -C -n UMBRAFD "$img" 1440 >/dev/null
	printf 'SERIAL 0 115200\nSAY UMBRA-FLOPPY-BOOT\nPROMPT 1\nTIMEOUT 0\n' >"$work/syslinux.cfg"
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$work/syslinux.cfg" ::/
	rm -f "$work/syslinux.cfg"
	syslinux --install "$img"
}

# boot_case TRIED ARGS...: boot with the media/-boot ARGS (under -snapshot)
# until the loader of the last device in TRIED speaks; TRIED lists, comma-
# separated, the devices SeaBIOS must have said "Booting from" for, in order.
boot_case() {
	local tried=$1 last banner got
	shift
	last=${tried##*,}
	case $last in
	"Hard Disk") banner='^SYSLINUX [0-9]' ;;
	"DVD/CD") banner='^ISOLINUX [0-9]' ;;
	Floppy | "DVD/CD=floppy") banner='^UMBRA-FLOPPY-BOOT' ;;
	*) die "boot_case: unknown device '$last'" ;;
	esac
	# DVD/CD=floppy: a CD whose El Torito image is the floppy (emulation)
	tried=${tried//=floppy/} last=${last%=floppy}
	start -m 256 -snapshot -nographic "$@"
	wait_for "Booting from $last"
	wait_for "$banner"
	stop
	got=$(tr -d '\r' <"$serial" | grep -ao 'Booting from [^.]*' | sed 's/^Booting from //' | paste -sd,)
	[[ $got == "$tried" ]] || fail_with_log "SeaBIOS tried '$got', want '$tried'"
	case $last in
	"Hard Disk") has 'ISOLINUX [0-9]|UMBRA-FLOPPY' && fail_with_log "another loader ran" ;;
	"DVD/CD") [[ $banner == *FLOPPY* ]] || ! has 'SYSLINUX [0-9]|UMBRA-FLOPPY' ||
		fail_with_log "another loader ran" ;;
	Floppy) has 'ISOLINUX [0-9]' && fail_with_log "another loader ran" ;;
	esac
	echo "boot-media-test: ${*}: booted from $last (tried: $tried)"
}

serial=$tmp/serial.log
# start ARGS...: run the emulator with ARGS; serial output to $serial.
start() {
	: >"$serial"
	"${umbra[@]}" "$@" </dev/null >"$serial" 2>"$tmp/stderr" &
	pid=$!
	t0=$EPOCHREALTIME
	echo "boot-media-test: ${umbra[*]} $*"
}

stop() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	pid=""
}

fail_with_log() {
	echo "boot-media-test: $*" >&2
	echo "--- last serial output:" >&2
	tr -d '\r' <"$serial" | tail -n 40 >&2 || true
	echo "--- emulator stderr:" >&2
	tail -n 20 "$tmp/stderr" >&2 || true
	exit 1
}

elapsed() { echo "$EPOCHREALTIME $t0" | awk '{printf "%.2f", $1 - $2}'; }

# wait_for REGEX: until the serial log (CRs dropped) has a matching line.
wait_for() {
	local start_s=$SECONDS
	while ! tr -d '\r' <"$serial" | grep -aqE "$1"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tr -d '\r' <"$serial" | grep -aqE "$1" || fail_with_log "emulator exited before '$1'"
			break
		fi
		((SECONDS - start_s < timeout_s)) || fail_with_log "no '$1' within ${timeout_s} s"
		sleep 0.1
	done
	echo "boot-media-test: '$1' after $(elapsed) s"
}

has() { tr -d '\r' <"$serial" | grep -aqE "$1"; }

# linux_to_done: the guest's /init runs bench=boot to its end.
linux_to_done() {
	wait_for 'GUEST-READY$'
	wait_for 'GUEST-DONE$'
	has 'GUEST-RESULT boot$' || fail_with_log "no 'GUEST-RESULT boot'"
	stop
}

case $mode in
disk)
	make_disk
	img=$work/disk.img
	sum=$(sha256sum <"$img")
	start -m 256 -hda "$img" -nographic -snapshot
	wait_for 'Booting from Hard Disk'
	wait_for '^SYSLINUX [0-9]'
	linux_to_done
	[[ $(sha256sum <"$img") == "$sum" ]] || die "-snapshot: $img changed"
	echo "boot-media-test: $img unchanged after the -snapshot boot"
	;;
cdrom)
	mkdir -p "$work"
	make_iso guest.iso 1
	start -m 256 -cdrom "$work/guest.iso" -boot d -nographic
	wait_for 'Booting from DVD/CD'
	wait_for '^ISOLINUX [0-9]'
	linux_to_done
	;;
order)
	make_disk
	make_iso guest.iso 1
	make_iso data.iso 0
	make_floppy
	# SeaBIOS's own bootorder file (-fw_cfg) naming the CD (secondary master).
	# Umbra lets it replace the machine's (devices/pcbios.c); QEMU instead
	# refuses a second "bootorder" -- its other cases here behave as QEMU 7.2.
	printf '/pci@i0cf8/ide@1,1/drive@1/disk@0\n' >"$work/bootorder-cd"
	hd=(-hda "$work/disk.img") cd=(-cdrom "$work/guest.iso") fd=(-fda "$work/floppy.img")
	boot_case "Hard Disk" "${hd[@]}" "${cd[@]}"
	boot_case "DVD/CD" "${hd[@]}" "${cd[@]}" -boot d
	boot_case "DVD/CD" "${hd[@]}" "${cd[@]}" -boot order=dc
	boot_case "Hard Disk" "${hd[@]}" "${cd[@]}" -boot order=cd
	boot_case "DVD/CD,Hard Disk" "${hd[@]}" -cdrom "$work/data.iso" -boot order=dc
	boot_case "Hard Disk" "${hd[@]}" "${fd[@]}" "${cd[@]}"
	boot_case "Floppy" "${hd[@]}" "${fd[@]}" "${cd[@]}" -boot a
	boot_case "Floppy" "${hd[@]}" "${fd[@]}" "${cd[@]}" -boot order=adc
	boot_case "DVD/CD" "${hd[@]}" "${fd[@]}" "${cd[@]}" -boot order=dac
	boot_case "DVD/CD" "${hd[@]}" "${cd[@]}" -fw_cfg "name=bootorder,file=$work/bootorder-cd"
	# El Torito floppy emulation: the floppy image as the CD's boot image;
	# SYSLINUX then reads its FAT through SeaBIOS's emulated drive A.
	xorriso -as mkisofs -quiet -o "$work/fdemu.iso" -V UMBRA-FDEMU -b floppy.img \
		-c boot.cat "$work/floppy.img" || die "xorriso failed"
	boot_case "DVD/CD=floppy" "${hd[@]}" -cdrom "$work/fdemu.iso" -boot d
	;;
esac
echo "boot-media-test: $mode passed"
