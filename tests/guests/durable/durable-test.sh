#!/bin/sh
# durable-test.sh — storage.durable: what the guest's FLUSH CACHE
# acknowledged survives `kill -9` of Umbra.  For a raw and a qcow2 image
# (2 GiB, fresh): boot the durable guest with a new salt, wait for
# "DURABLE-FLUSHED salt=S" on its serial port, SIGKILL Umbra at once (the
# guest is by then writing more, unflushed), and check the image:
# durable_check finds every flushed sector, and every later one either
# written whole or still zero; a qcow2 image must also pass `qemu-img check`
# (leaked clusters allowed: a crash may leak, never corrupt) and is read
# through `qemu-img convert`, QEMU's own reader.  Third, a qcow2 overlay of
# a raw backing file with random data in its first 4 MiB: the flushed
# sectors, and around them the backing file's data (copied into the new
# clusters before the guest's sectors), must be there.
#
#   durable-test.sh UMBRA DURABLE.elf DURABLE_CHECK OUTDIR
#
# Exit 77 (skip) without qemu-img (package qemu-utils).
set -u
umbra=$1 guest=$2 check=$3 out=$4
command -v qemu-img >/dev/null || { echo "durable: qemu-img not installed: skipped" >&2; exit 77; }
mkdir -p "$out"
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null' EXIT
fail() { echo "durable: $*" >&2; cat "$out/serial.txt" "$out/umbra.log" >&2 2>/dev/null; exit 1; }

for kind in raw qcow2 overlay; do
    img=$out/disk-$kind.img
    fmt=$kind
    rm -f "$img" "$out/serial.txt"
    case $kind in
    raw) truncate -s 2G "$img" || fail "cannot create $img" ;;
    qcow2) qemu-img create -q -f qcow2 "$img" 2G || fail "cannot create $img" ;;
    overlay)
        fmt=qcow2
        rm -f "$out/backing.raw"
        truncate -s 2G "$out/backing.raw" &&
            head -c 4M /dev/urandom | dd of="$out/backing.raw" conv=notrunc status=none &&
            qemu-img create -q -f qcow2 -b "$out/backing.raw" -F raw "$img" ||
            fail "cannot create $img"
        ;;
    esac
    rm -f "$out/disk-$kind.raw"
    salt=$(( $(od -An -N3 -tu4 /dev/urandom) + 1 ))
    "$umbra" -kernel "$guest" -append "salt=$salt" -display none -no-reboot \
        -serial "file:$out/serial.txt" -drive "file=$img,format=$fmt,if=ide,index=0" \
        </dev/null >"$out/umbra.log" 2>&1 &
    pid=$!
    t=0
    until grep -q "^DURABLE-FLUSHED salt=$salt" "$out/serial.txt" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || fail "$kind: umbra exited before the flush"
        [ $t -lt 600 ] || fail "$kind: no DURABLE-FLUSHED within 60 s"
        t=$((t + 1))
        sleep 0.1
    done
    kill -KILL "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=
    [ $rc -eq 137 ] || fail "$kind: umbra ended with status $rc, not by SIGKILL"
    grep -q DURABLE-AFTER-DONE "$out/serial.txt" &&
        echo "durable: $kind: (the unflushed writes had all finished before the kill)"
    if [ $fmt = raw ]; then
        "$check" "$img" $salt || fail "$kind: the image is not what the guest flushed"
    else
        qemu-img check "$img" >"$out/check.txt" 2>&1
        rc=$?
        cat "$out/check.txt"
        [ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "$kind: qemu-img check: status $rc"
        qemu-img convert -O raw "$img" "$out/disk-$kind.raw" || fail "$kind: qemu-img convert failed"
        if [ $kind = overlay ]; then
            "$check" "$out/disk-$kind.raw" $salt "$out/backing.raw" || fail "$kind: the image is not what the guest flushed"
        else
            "$check" "$out/disk-$kind.raw" $salt || fail "$kind: the image is not what the guest flushed"
        fi
    fi
done
rm -f "$out"/disk-* "$out/backing.raw"
echo "durable: FLUSH CACHE data survived kill -9 on raw, qcow2 and a qcow2 overlay"
