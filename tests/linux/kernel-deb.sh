#!/usr/bin/env bash
# kernel-deb.sh GUEST_DIR — print the path of the linux-image .deb that
# matches the bench guest's kernel (GUEST_DIR/kernel-version.txt), for tests
# that need the kernel's own modules; downloaded once into GUEST_DIR/.cache
# with apt-get download (needs the network the first time).
set -euo pipefail
die() { printf 'kernel-deb: %s\n' "$*" >&2; exit 1; }
guest=$1
[[ -s $guest/kernel-version.txt ]] || die "$guest/kernel-version.txt missing: the linux.guest test builds it"
read -r kpkg kver <"$guest/kernel-version.txt"
cache=$guest/.cache
deb=$(find "$cache" -maxdepth 1 -name "${kpkg}_*_i386.deb" 2>/dev/null | sort | tail -n 1)
if [[ -z $deb ]]; then
	mkdir -p "$cache/debs"
	if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$cache/debs"; fi
	(cd "$cache/debs" && { apt-get download -qq "$kpkg:i386=$kver" ||
		apt-get download -qq "$kpkg:i386"; }) >&2 || die "cannot download $kpkg:i386"
	mv "$cache"/debs/"${kpkg}"_*_i386.deb "$cache/"
	deb=$(find "$cache" -maxdepth 1 -name "${kpkg}_*_i386.deb" | sort | tail -n 1)
fi
[[ -n $deb ]] || die "no $kpkg .deb"
echo "$deb"
