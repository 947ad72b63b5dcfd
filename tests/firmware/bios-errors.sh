#!/bin/sh
# bios-errors.sh — a -bios file that is missing or not a BIOS image stops
# Umbra before the machine starts: exit status 1 and one line on stderr that
# names the path and the Debian package to install.
#
#   bios-errors.sh UMBRA
set -u
umbra=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

check() { # check WHAT PATH-IN-MESSAGE ARGS...
    what=$1 want=$2
    shift 2
    timeout 10 "$umbra" -nographic "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" != 1 ]; then
        echo "FAIL ($what): exit status $rc, want 1" >&2; fail=1
    elif [ "$lines" != 1 ]; then
        echo "FAIL ($what): $lines lines on stderr, want 1:" >&2; cat "$tmp/err" >&2; fail=1
    elif ! grep -qF "$want" "$tmp/err" || ! grep -qF "(Debian package seabios)" "$tmp/err"; then
        echo "FAIL ($what): message lacks '$want' or the package name:" >&2; cat "$tmp/err" >&2
        fail=1
    elif [ -s "$tmp/out" ]; then
        echo "FAIL ($what): the guest ran (output on stdout)" >&2; fail=1
    else
        echo "ok ($what): $(cat "$tmp/err")"
    fi
}

check "missing absolute path" "$tmp/no-such-bios.bin" -bios "$tmp/no-such-bios.bin"
# A bare name is looked up in /usr/share/seabios too; the message names that path.
check "missing bare name" "/usr/share/seabios/no-such-bios-umbra.bin" -bios no-such-bios-umbra.bin
head -c 1000 /dev/zero >"$tmp/small.bin"
check "not a multiple of 64 KiB" "$tmp/small.bin" -bios "$tmp/small.bin"
: >"$tmp/empty.bin"
check "empty" "$tmp/empty.bin" -bios "$tmp/empty.bin"
exit $fail
