#!/usr/bin/env bash
# floppy-test.sh — Linux's own floppy driver (floppy.ko of the guest's
# Debian kernel) against Umbra's 82077AA and 8237: the guest reads the whole
# disk through /dev/fd0 (its MD5 must equal the host's), copies sector 100 to
# sector 200 with fsync, and reads that back after dropping its caches; the
# host then compares the image with the expected one byte for byte.
#
#   floppy-test.sh module GUEST OUTDIR
#       fetch floppy.ko for the kernel in GUEST (kernel-version.txt names its
#       Debian package) into OUTDIR, once (apt-get download: the network,
#       like the guest build itself)
#   floppy-test.sh run dma|nodma GUEST OUTDIR FDIMAGE UMBRA...
#       boot with a 1.44 MB image in drive A (FDIMAGE makes it); nodma is
#       the driver's pseudo-DMA through the FIFO (floppy=nodma)
#
# The guest's initramfs is extended by a second cpio archive appended to it
# (the kernel unpacks them in order): /floppy.ko and an /init of our own.
# Every run has a time limit ($UMBRA_LINUX_BOOT_TIMEOUT, default 600 s).
set -euo pipefail

die() { printf 'floppy-test: %s\n' "$*" >&2; exit 1; }
[[ $# -ge 3 ]] || die "usage: $0 module GUEST OUTDIR | run dma|nodma GUEST OUTDIR FDIMAGE UMBRA..."
mode=$1
timeout_s=${UMBRA_LINUX_BOOT_TIMEOUT:-600}

if [[ $mode == module ]]; then
	guest=$2 out=$3
	[[ -s $out/floppy.ko ]] && { echo "floppy-test: reusing $out/floppy.ko"; exit 0; }
	read -r pkg ver <"$guest/kernel-version.txt" || die "$guest/kernel-version.txt unreadable"
	mkdir -p "$out"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$pkg:i386=$ver") >&2 ||
		die "apt-get download $pkg:i386=$ver failed: cannot get floppy.ko"
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards '*/floppy.ko*'
	ko=$(find "$tmp" -name 'floppy.ko*' | head -n 1)
	[[ -n $ko ]] || die "no floppy.ko in $pkg"
	case $ko in
	*.xz) xz -dc "$ko" >"$out/floppy.ko.tmp" ;;
	*.zst) zstd -dc "$ko" >"$out/floppy.ko.tmp" ;;
	*) cp "$ko" "$out/floppy.ko.tmp" ;;
	esac
	mv "$out/floppy.ko.tmp" "$out/floppy.ko"
	echo "floppy-test: $out/floppy.ko from $pkg $ver"
	exit 0
fi

[[ $mode == run && $# -ge 6 ]] || die "usage: $0 run dma|nodma GUEST OUTDIR FDIMAGE UMBRA..."
dmamode=$2 guest=$3 out=$4 fdimage=$5
shift 5
umbra=("$@")
for f in "$guest/bzImage" "$guest/initrd.gz" "$out/floppy.ko"; do
	[[ -s $f ]] || die "$f missing (the linux.guest and linux.floppy.module tests make it)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
cp "$out/floppy.ko" "$work/root/floppy.ko"
opt=
[[ $dmamode == nodma ]] && opt=floppy=nodma
cat >"$work/root/init" <<INIT
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
echo FLOPPY-START
insmod /floppy.ko $opt || echo "FLOPPY-FAIL insmod"
i=0
while [ ! -b /dev/fd0 ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done
echo "FLOPPY-MD5 \$(dd if=/dev/fd0 bs=512 2>/dev/null | md5sum)"
dd if=/dev/fd0 of=/tmp/s100 bs=512 skip=100 count=1 2>/dev/null
dd if=/tmp/s100 of=/dev/fd0 bs=512 seek=200 count=1 conv=notrunc,fsync 2>/dev/null ||
	echo "FLOPPY-FAIL write"
echo 3 >/proc/sys/vm/drop_caches
echo "FLOPPY-S200 \$(dd if=/dev/fd0 bs=512 skip=200 count=1 2>/dev/null | md5sum)"
dmesg | grep -iE 'floppy|fd0|fdc' | grep -vE 'Floppy drive|FDC 0 is|floppy0: (no)?dma'
echo FLOPPY-DONE
poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/extra.gz"
cat "$guest/initrd.gz" "$work/extra.gz" >"$work/initrd.gz"

img=$work/fd.img
"$fdimage" make "$img"
want_md5=$(md5sum <"$img" | cut -d' ' -f1)
want_s200=$(dd if="$img" bs=512 skip=100 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
cp "$img" "$work/expected.img"
dd if="$img" of="$work/expected.img" bs=512 skip=100 seek=200 count=1 conv=notrunc 2>/dev/null

args=(-m 256 -kernel "$guest/bzImage" -initrd "$work/initrd.gz" -fda "$img" -nographic
	-append "console=ttyS0 quiet panic=-1")
echo "floppy-test: ${umbra[*]} ${args[*]}"
t0=$SECONDS
rc=0
timeout "$timeout_s" "${umbra[@]}" "${args[@]}" </dev/null >"$work/serial" 2>&1 || rc=$?
tr -d '\r' <"$work/serial" >"$work/serial.txt"
fail() {
	echo "floppy-test: $*" >&2
	echo "--- serial output from FLOPPY-START:" >&2
	sed -n '/^FLOPPY-START/,$p' "$work/serial.txt" | tail -n 40 >&2
	[[ -s $work/serial.txt ]] && grep -q FLOPPY-START "$work/serial.txt" || tail -n 40 "$work/serial.txt" >&2
	exit 1
}
[[ $rc -eq 124 ]] && fail "TIMEOUT after ${timeout_s} s"
grep -q '^FLOPPY-DONE' "$work/serial.txt" || fail "no FLOPPY-DONE (exit status $rc)"
grep -q '^FLOPPY-FAIL' "$work/serial.txt" && fail "$(grep '^FLOPPY-FAIL' "$work/serial.txt")"
grep -q "^FLOPPY-MD5 $want_md5 " "$work/serial.txt" || fail "disk read: MD5 differs (want $want_md5)"
grep -q "^FLOPPY-S200 $want_s200 " "$work/serial.txt" || fail "sector 200 read back wrong"
if grep -qiE 'error|timeout|unexpected|long rw' <(sed -n '/^FLOPPY-MD5/,/^FLOPPY-DONE/p' "$work/serial.txt"); then
	fail "the driver complained"
fi
cmp "$img" "$work/expected.img" || fail "the image is not the expected one (sector 200 = sector 100)"
echo "floppy-test: $dmamode passed in $((SECONDS - t0)) s"
