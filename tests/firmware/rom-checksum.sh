#!/bin/sh
# rom-checksum.sh IN OUT — copy an option ROM, setting its last byte so that
# all its bytes sum to zero (mod 256), as the BIOS checks.
set -eu
cp "$1" "$2"
sum=0
for b in $(od -An -tu1 -v "$2"); do sum=$(((sum + b) & 255)); done
last=$(tail -c 1 "$2" | od -An -tu1 | tr -d ' ')
fix=$(((256 - (sum - last) % 256) % 256))
size=$(wc -c <"$2")
printf "$(printf '\\%03o' "$fix")" | dd of="$2" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
