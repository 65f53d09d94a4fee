#!/usr/bin/env bash
# A small copy of ../shared/bench/make-filesystem-image.sh for CI: the same kind of content at about
# a tenth of the size. ext4 in a SIZE MiB thin disk holding /usr/share/doc and /usr/share/perl5
# (small files, many compressed already), the libraries lib[a-c]* of /usr/lib/x86_64-linux-gnu (ELF),
# a second copy of those libraries (a guest that copies a directory) and 16 MiB of pseudo-random bytes.
# Usage: make-small-filesystem-image.sh SIZE_MIB OUT.raw      (needs mke2fs from e2fsprogs)
set -eu
size=${1:?usage: make-small-filesystem-image.sh SIZE_MIB OUT.raw}
out=${2:?usage: make-small-filesystem-image.sh SIZE_MIB OUT.raw}
tree=$(mktemp -d); trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/usr/share" "$tree/usr/lib/x86_64-linux-gnu" "$tree/copy"
cp -a /usr/share/doc /usr/share/perl5 "$tree/usr/share/" 2>/dev/null || true
cp -a /usr/lib/x86_64-linux-gnu/lib[a-c]* "$tree/usr/lib/x86_64-linux-gnu/" 2>/dev/null || true
cp -a /usr/lib/x86_64-linux-gnu/lib[a-c]* "$tree/copy/" 2>/dev/null || true
openssl enc -aes-128-ctr -nosalt -K 0f0e0d0c0b0a09080706050403020100 -iv 00000000000000000000000000000000 \
  </dev/zero 2>/dev/null | head -c $((16 * 1024 * 1024)) > "$tree/random.bin" || true
rm -f "$out"; truncate -s "${size}M" "$out"
mke2fs -q -t ext4 -d "$tree" "$out"
echo "$out: $(du -h --apparent-size "$out" | cut -f1) apparent, $(du -h "$out" | cut -f1) allocated"
