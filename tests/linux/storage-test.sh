#!/usr/bin/env bash
# storage-test.sh — the IDE/ATAPI real-guest test: Debian's i686 kernel with
# an initramfs of busybox and the kernel's own storage modules (libata,
# ata_piix, scsi, sd_mod, sr_mod, cdrom, ext4 for ext2), taken from the
# linux-image .deb matching the guest's kernel, sees a disk and a CD-ROM on
# the PIIX3 IDE controller:
#   1. raw ext2 disk + raw CD: a file on the disk and the whole CD read with
#      the right sha256 (ata_piix reads with bus-master DMA); a file written
#      by the guest is in the image afterwards (debugfs) and e2fsck is clean;
#   2. the same with -snapshot: the guest reads back what it wrote, and the
#      image's sha256 is unchanged afterwards;
#   3. the disk as qcow2 (-drive format=qcow2): the guest's write lands, and
#      `qemu-img check` finds the image consistent.
#
#   storage-test.sh GUEST_DIR UMBRA [ARGS...]
#
# UMBRA_STORAGE_VERBOSE=1 shows the whole serial log with kernel messages.
# GUEST_DIR is the bench guest (bzImage, kernel-version.txt, and busybox in
# .cache/, as make-guest.sh leaves them); the kernel's .deb is downloaded
# once into GUEST_DIR/.cache (apt-get download: needs the network).
set -euo pipefail

die() { printf 'storage-test: %s\n' "$*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: $0 GUEST_DIR UMBRA [ARGS...]"
guest=$1
shift
umbra=("$@")
timeout_s=${UMBRA_LINUX_BOOT_TIMEOUT:-600}
for f in bzImage kernel-version.txt .cache/busybox-static.i386; do
	[[ -s $guest/$f ]] || die "$guest/$f missing: the linux.guest test builds it"
done
for t in qemu-img debugfs e2fsck mke2fs cpio sha256sum; do
	command -v "$t" >/dev/null || die "$t not found (packages qemu-utils, e2fsprogs, cpio)"
done

read -r kpkg kver <"$guest/kernel-version.txt"
kabi=${kpkg#linux-image-}
deb=$("$(dirname "$0")/kernel-deb.sh" "$guest") || die "no kernel .deb"

work=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# --- the modules, in dependency order ---
mkdir -p "$work/deb"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/deb" "./lib/modules/$kabi/kernel"
kdir=$work/deb/lib/modules/$kabi/kernel
declare -A modpath
while IFS= read -r f; do
	n=$(basename "$f" .ko)
	modpath[${n//-/_}]=$f
done < <(find "$kdir" -name '*.ko')
order=()
declare -A seen
add_mod() { # NAME: its dependencies first
	local n=${1//-/_} d
	[[ -n ${seen[$n]:-} ]] && return 0
	seen[$n]=1
	[[ -n ${modpath[$n]:-} ]] || die "module $1 not in $deb"
	for d in $(strings "${modpath[$n]}" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '); do
		add_mod "$d"
	done
	order+=("$n")
}
# Algorithms that modules look up by name at load or mount time come first.
for m in crct10dif_generic crc64_rocksoft_generic crc32c_generic ata_piix sd_mod sr_mod ext4; do
	add_mod "$m"
done

# --- the initramfs ---
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,mnt,mod}
cp "$guest/.cache/busybox-static.i386" "$root/bin/busybox"
for m in "${order[@]}"; do cp "${modpath[$m]}" "$root/mod/$m.ko"; done
printf '%s\n' "${order[@]}" >"$root/modules.order"
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
tag=$(sed -n 's/.*umbra_tag=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
for m in $(cat /modules.order); do insmod /mod/$m.ko 2>/dev/null || echo "INSMOD-FAIL $m"; done
i=0
while [ ! -b /dev/sda ] || [ ! -b /dev/sr0 ]; do
	i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.1
done
cat /proc/partitions | sed 's/^/PART /'
echo "CD-READ $(sha256sum /dev/sr0 | cut -d' ' -f1)"
if mount -t ext2 /dev/sda /mnt; then
	echo "DISK-READ $(sha256sum /mnt/data.bin | cut -d' ' -f1)"
	i=0; while [ $i -lt 2000 ]; do echo "line $i of $tag"; i=$((i + 1)); done >/mnt/out-$tag.txt
	sync
	echo "DISK-BACK $(sha256sum /mnt/out-$tag.txt | cut -d' ' -f1)"
	umount /mnt
	echo "DISK-UMOUNTED"
else
	echo "DISK-MOUNT-FAILED"
fi
echo STORAGE-DONE
poweroff -f
EOF
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# --- the media ---
mkdir -p "$work/fs"
head -c 3000000 /dev/urandom >"$work/fs/data.bin"
want_data=$(sha256sum "$work/fs/data.bin" | cut -d' ' -f1)
mke2fs -q -F -t ext2 -b 1024 -d "$work/fs" "$work/disk.img" 16M
head -c $((2048 * 900)) /dev/urandom >"$work/cd.iso"
want_cd=$(sha256sum "$work/cd.iso" | cut -d' ' -f1)

serial=$work/serial.log
quiet=quiet
[[ -z ${UMBRA_STORAGE_VERBOSE:-} ]] || quiet=printk.time=1
# boot TAG ARGS...: one run with the disk/CD flags given, to STORAGE-DONE.
boot() {
	local tag=$1
	shift
	: >"$serial"
	echo "storage-test: ${umbra[*]} -m 256 -kernel bzImage -initrd initrd.gz $* (tag $tag)"
	local t0=$SECONDS rc=0
	timeout "$timeout_s" "${umbra[@]}" -m 256 -kernel "$guest/bzImage" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 $quiet panic=-1 umbra_tag=$tag" -nographic "$@" \
		</dev/null >"$serial" 2>"$work/stderr" || rc=$?
	grep -a '^INSMOD-FAIL\|^PART\|-READ\|^DISK' "$serial" | tr -d '\r' | sed 's/^/  guest: /'
	if [[ -n ${UMBRA_STORAGE_VERBOSE:-} ]]; then tr -d '\r' <"$serial" | sed 's/^/  serial: /'; fi
	grep -aq '^STORAGE-DONE' "$serial" || fail "run $tag: no STORAGE-DONE (exit $rc)"
	echo "storage-test: run $tag took $((SECONDS - t0)) s"
}
fail() {
	echo "storage-test: $*" >&2
	tail -n 40 "$serial" >&2 || true
	tail -n 20 "$work/stderr" >&2 || true
	exit 1
}
field() { sed -n "s/^$1 //p" "$serial" | tr -d '\r' | head -n 1; }
expected_out() { # TAG: sha256 of the file the guest writes
	local i=0
	while [[ $i -lt 2000 ]]; do echo "line $i of $1"; i=$((i + 1)); done | sha256sum | cut -d' ' -f1
}
check_reads() {
	[[ $(field CD-READ) == "$want_cd" ]] || fail "CD sha256 $(field CD-READ), want $want_cd"
	[[ $(field DISK-READ) == "$want_data" ]] || fail "disk file sha256 $(field DISK-READ), want $want_data"
	[[ $(field DISK-BACK) == "$(expected_out "$1")" ]] || fail "the written file reads back wrong"
	grep -aq '^DISK-UMOUNTED' "$serial" || fail "umount failed"
}

# 1. raw disk and CD, writes land in the image.
boot raw -hda "$work/disk.img" -cdrom "$work/cd.iso"
check_reads raw
got=$(debugfs -R "cat /out-raw.txt" "$work/disk.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
[[ $got == "$(expected_out raw)" ]] || fail "the guest's file is not in the image"
e2fsck -fn "$work/disk.img" >/dev/null 2>&1 || fail "e2fsck finds the image damaged"
echo "storage-test: raw: reads match, the written file is in the image, e2fsck clean"

# 2. -snapshot: the image is untouched.
before=$(sha256sum "$work/disk.img" | cut -d' ' -f1)
boot snap -hda "$work/disk.img" -cdrom "$work/cd.iso" -snapshot
check_reads snap
after=$(sha256sum "$work/disk.img" | cut -d' ' -f1)
[[ $before == "$after" ]] || fail "-snapshot changed the image's sha256"
echo "storage-test: -snapshot: the guest saw its write, the image's sha256 is unchanged"

# 3. qcow2.
qemu-img convert -f raw -O qcow2 "$work/disk.img" "$work/disk.qcow2"
boot qcow -drive "file=$work/disk.qcow2,format=qcow2,if=ide,index=0" \
	-drive "file=$work/cd.iso,media=cdrom,index=2"
check_reads qcow
qemu-img check "$work/disk.qcow2" >/dev/null || fail "qemu-img check fails on the qcow2 Umbra wrote"
qemu-img convert -O raw "$work/disk.qcow2" "$work/back.img"
got=$(debugfs -R "cat /out-qcow.txt" "$work/back.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
[[ $got == "$(expected_out qcow)" ]] || fail "the guest's file is not in the qcow2 image"
echo "storage-test: qcow2: the written file is in the image, qemu-img check clean"
