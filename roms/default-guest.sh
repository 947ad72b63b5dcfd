#!/usr/bin/env bash
# default-guest.sh OUTDIR — build Umbra's built-in default guest from Debian
# packages: the i686 kernel that linux-image-686:i386 depends on, and a
# busybox-static (i386) initramfs whose /init gives an interactive shell on
# the serial console, both on a small bootable disk (FAT16 with SYSLINUX, as
# a PC boots it).  `umbra` with no kernel, disk or firmware arguments boots
# that disk through SeaBIOS, read-only (-snapshot).  The build runs this at
# build time (roms/roms.cmake).
#
# Writes OUTDIR/disk.img, OUTDIR/bzImage, OUTDIR/initrd.gz (the same kernel
# and initrd, for -kernel) and OUTDIR/version.txt.  The
# packages are fetched with `apt-get download` (no root needed) and unpacked
# with dpkg-deb, never installed; the two files taken from them are cached in
# OUTDIR/.cache so a rebuild works offline.  Needs dpkg's i386 architecture
# (.ci/install-deps.sh adds it), cpio, gzip, and for the disk dosfstools,
# mtools and syslinux.
set -euo pipefail

die() { printf 'default-guest: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'default-guest: %s\n' "$*" >&2; }

[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1/.cache"
out=$(cd "$1" && pwd)
cache=$out/.cache
work=$(mktemp -d)
chmod 755 "$work" # apt-get download's sandbox user writes below it
trap 'rm -rf "$work"' EXIT

for tool in apt-get dpkg-deb cpio gzip mkfs.fat mcopy syslinux; do
	command -v "$tool" >/dev/null || die "$tool not found (run .ci/install-deps.sh as root)"
done
dpkg --print-foreign-architectures | grep -qx i386 ||
	die "dpkg has no i386 architecture (run .ci/install-deps.sh as root: it adds it)"

# fetch PKG GLOB DEST: the one file matching GLOB in PKG:i386's data, cached.
fetch() {
	local pkg=$1 glob=$2 dest=$3 deb
	if [[ -s $dest && -s $dest.version ]]; then
		return 0
	fi
	log "downloading $pkg:i386"
	mkdir -p "$work/debs"
	# apt's download sandbox user must be able to write there.
	if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$work/debs"; fi
	(cd "$work/debs" && apt-get download -qq "$pkg:i386") ||
		die "apt-get download $pkg:i386 failed (network? run apt-get update)"
	deb=$(find "$work/debs" -name "${pkg}_*_i386.deb" | head -n 1)
	[[ -n $deb ]] || die "no .deb for $pkg:i386"
	mkdir -p "$work/x"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/x" --wildcards "$glob"
	local file
	file=$(cd "$work/x" && compgen -G "$glob" | head -n 1) || true
	[[ -n $file ]] || die "$deb has no $glob"
	cp "$work/x/$file" "$dest.tmp" && mv "$dest.tmp" "$dest"
	printf '%s %s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" >"$dest.version"
	rm -rf "$work/x" "$work/debs"
}

kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
	awk '/Depends: linux-image-/ { print $2; exit }')
kpkg=${kpkg%:i386}
if [[ -z $kpkg ]]; then
	# Offline with a cache: reuse whatever kernel was fetched last.
	[[ -s $cache/vmlinuz ]] || die "cannot resolve linux-image-686:i386 (run apt-get update)"
else
	if [[ -s $cache/vmlinuz.version && $(cut -d' ' -f1 "$cache/vmlinuz.version") != "$kpkg" ]]; then
		rm -f "$cache/vmlinuz" "$cache/vmlinuz.version" # a newer kernel package
	fi
	fetch "$kpkg" './boot/vmlinuz-*' "$cache/vmlinuz"
fi
fetch busybox-static './bin/busybox' "$cache/busybox"
chmod 755 "$cache/busybox"

root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc}
cp "$cache/busybox" "$root/bin/busybox"
# The applet list comes from the binary itself (a static i386 program runs on
# an x86-64 host); the shell and the tools used by /init must be there.
applets=$("$cache/busybox" --list-full) || die "cannot run the i386 busybox to list its applets"
for a in $applets; do
	[[ $a == bin/busybox ]] || ln -sf /bin/busybox "$root/$a"
done
for a in sh mount setsid cttyhack poweroff hostname; do
	[[ -L $root/bin/$a || -L $root/sbin/$a || -L $root/usr/bin/$a || -L $root/usr/sbin/$a ]] || die "busybox lacks '$a'"
done

kver=$(cat "$cache/vmlinuz.version")
bver=$(cat "$cache/busybox.version")
cat >"$root/etc/motd" <<EOF

Umbra default guest: $kver, $bver.
Type commands; 'exit' (or poweroff -f) powers the guest off and ends Umbra.

EOF
cat >"$root/etc/profile" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
PS1='umbra:\w# '
cd /root
EOF
cat >"$root/init" <<'EOF'
#!/bin/sh
# PID 1: mount the kernel's file systems, greet, and run a login shell on the
# console with job control (cttyhack gives it the console as its terminal);
# when the shell ends, power off -- which ends the emulator.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
hostname umbra
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
cat /etc/motd
setsid cttyhack sh -l
echo "umbra: the shell exited; powering off"
poweroff -f
EOF
chmod 755 "$root/init"

# The kernel's built-in initramfs provides /dev/console before /init runs.
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9 >"$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
cp "$cache/vmlinuz" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"

# The disk: one unpartitioned FAT16 file system whose boot sector is
# SYSLINUX's, so the BIOS boots sector 0 directly.  SYSLINUX talks to the
# serial port too, so a headless boot shows it.
img=$work/disk.img
truncate -s 24M "$img"
mkfs.fat -F 16 -n UMBRA "$img" >/dev/null
cat >"$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
	KERNEL /bzImage
	INITRD /initrd.gz
	APPEND console=ttyS0 quiet
EOF
export MTOOLS_SKIP_CHECK=1
mcopy -i "$img" "$out/bzImage" "$out/initrd.gz" "$work/syslinux.cfg" ::/
syslinux --install "$img"
mv "$img" "$out/disk.img"
printf '%s\n%s\n' "$kver" "$bver" >"$out/version.txt"
log "built $out/disk.img: $kver, $bver"
