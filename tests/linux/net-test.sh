#!/usr/bin/env bash
# net-test.sh — the NE2000 on libslirp with a real guest: Debian's i686
# kernel with its own 8390 and ne2k-pci modules (from the linux-image .deb
# matching the guest's kernel) in a busybox initramfs:
#   1. busybox udhcpc gets 10.0.2.15 from slirp's DHCP server;
#   2. the guest downloads a 4 MiB random file from a web server the test
#      runs on the host's loopback, through 10.0.2.2, and its sha256 matches;
#   3. the guest serves a page (busybox httpd on port 80) that the host
#      fetches through -netdev user,hostfwd=tcp:127.0.0.1:PORT-:80;
#   4. -object filter-dump captured the traffic as a pcap with frames in it.
#
#   net-test.sh GUEST_DIR UMBRA [ARGS...]
set -euo pipefail

die() { printf 'net-test: %s\n' "$*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: $0 GUEST_DIR UMBRA [ARGS...]"
guest=$1
shift
umbra=("$@")
timeout_s=${UMBRA_LINUX_BOOT_TIMEOUT:-600}
for f in bzImage kernel-version.txt .cache/busybox-static.i386; do
	[[ -s $guest/$f ]] || die "$guest/$f missing: the linux.guest test builds it"
done
command -v python3 >/dev/null || die "python3 not found (the host's web server and client)"
read -r kpkg _ <"$guest/kernel-version.txt"
kabi=${kpkg#linux-image-}
deb=$("$(dirname "$0")/kernel-deb.sh" "$guest") || die "no kernel .deb"

work=$(mktemp -d)
pid="" http=""
cleanup() {
	for p in $pid $http; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# --- the initramfs: busybox, the two modules, /init ---
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,www,mod}
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards \
	"./lib/modules/$kabi/kernel/drivers/net/ethernet/8390/8390.ko" \
	"./lib/modules/$kabi/kernel/drivers/net/ethernet/8390/ne2k-pci.ko"
cp "$work/lib/modules/$kabi/kernel/drivers/net/ethernet/8390/"{8390,ne2k-pci}.ko "$root/mod/"
cp "$guest/.cache/busybox-static.i386" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list-full); do
	[[ $a == bin/busybox ]] || ln -sf /bin/busybox "$root/$a"
done
cat >"$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
port=$(sed -n 's/.*netport=\([0-9]*\).*/\1/p' /proc/cmdline)
insmod /mod/8390.ko && insmod /mod/ne2k-pci.ko || echo NET-FAIL insmod
ip link set lo up
ip link set eth0 up || echo NET-FAIL no eth0
cat >/tmp/dhcp.sh <<'S'
#!/bin/sh
if [ "$1" = bound ]; then
	ifconfig "$interface" "$ip" netmask "$subnet"
	route add default gw "$router"
	echo "NET-LEASE $ip router $router"
fi
exit 0
S
chmod +x /tmp/dhcp.sh
udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5 || echo NET-FAIL dhcp
if wget -q -O /tmp/blob "http://10.0.2.2:$port/blob"; then
	echo "NET-SHA $(sha256sum /tmp/blob | cut -d' ' -f1)"
else
	echo NET-FAIL wget
fi
echo "UMBRA-NET-$((6 * 7))" >/www/index.html
httpd -p 80 -h /www && echo NET-HTTPD-UP
sleep 600
INIT
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$work/initrd.gz"

# --- the host side: a web server on loopback, two free ports ---
head -c $((4 << 20)) /dev/urandom >"$work/blob"
want=$(sha256sum <"$work/blob" | cut -d' ' -f1)
read -r port fport < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
(cd "$work" && exec python3 -m http.server "$port" --bind 127.0.0.1) >"$work/http.log" 2>&1 &
http=$!

serial=$work/serial.log
"${umbra[@]}" -m 256 -kernel "$guest/bzImage" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 netport=$port" -nographic \
	-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$fport-:80" -device ne2k_pci,netdev=n0 \
	-object filter-dump,id=d0,netdev=n0,file="$work/net.pcap" </dev/null >"$serial" 2>&1 &
pid=$!
t0=$SECONDS
echo "net-test: ${umbra[*]} ... -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$fport-:80 -device ne2k_pci,netdev=n0"

fail() {
	echo "net-test: $*" >&2
	echo "--- serial:" >&2
	tail -n 30 "$serial" >&2
	exit 1
}
wait_for() {
	while ! grep -aq "$1" "$serial"; do
		grep -aq 'NET-FAIL' "$serial" && fail "the guest reported: $(grep -a NET-FAIL "$serial" | head -1)"
		kill -0 "$pid" 2>/dev/null || fail "umbra exited before '$1'"
		((SECONDS - t0 < timeout_s)) || fail "no '$1' within ${timeout_s} s"
		sleep 0.5
	done
	echo "net-test: '$1' after $((SECONDS - t0)) s"
}
wait_for 'NET-LEASE 10.0.2.15 router 10.0.2.2'
wait_for 'NET-SHA'
got=$(sed -n 's/^NET-SHA \([0-9a-f]*\).*/\1/p' "$serial" | tr -d '\r' | head -n 1)
[[ $got == "$want" ]] || fail "4 MiB download: guest sha256 $got, host $want"
echo "net-test: 4 MiB downloaded through 10.0.2.2, sha256 $got"
wait_for 'NET-HTTPD-UP'
page=$(python3 -c "
import urllib.request
print(urllib.request.urlopen('http://127.0.0.1:$fport/index.html', timeout=60).read().decode().strip())") ||
	fail "the host could not fetch the guest's page through hostfwd"
[[ $page == UMBRA-NET-42 ]] || fail "hostfwd page: '$page'"
echo "net-test: the host fetched '$page' from the guest's httpd through hostfwd"
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""
frames=$(python3 -c "
import struct, sys
d = open('$work/net.pcap', 'rb').read()
assert struct.unpack('<I', d[:4])[0] == 0xa1b2c3d4, 'not a pcap'
n, off = 0, 24
while off + 16 <= len(d):
    n += 1; off += 16 + struct.unpack('<I', d[off + 8:off + 12])[0]
print(n)") || fail "net.pcap is not a pcap file"
((frames > 1000)) || fail "net.pcap holds only $frames frames"
echo "net-test: passed in $((SECONDS - t0)) s; the capture holds $frames frames"
