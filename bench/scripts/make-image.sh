#!/usr/bin/env bash
# A scaled copy of the reference image (../shared/bench/make-reference-image.sh) for CI:
# the same recipe and proportions at SIZE MiB (a multiple of 4):
#   [0, S/4) AES-CTR keystream, [S/4, S/2) a tar of /usr/share and /usr/lib, [S/2, S) a hole.
# Usage: make-image.sh SIZE_MIB OUT.raw
set -eu
size=${1:?usage: make-image.sh SIZE_MIB OUT.raw}
out=${2:?usage: make-image.sh SIZE_MIB OUT.raw}
q=$((size / 4))
rm -f "$out"
truncate -s $((size * 1024 * 1024)) "$out"
openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 \
  </dev/zero 2>/dev/null | head -c $((q * 1024 * 1024)) | dd of="$out" conv=notrunc bs=1M status=none
tar cf - -C /usr share lib 2>/dev/null | head -c $((q * 1024 * 1024)) \
  | dd of="$out" seek="$q" conv=notrunc bs=1M status=none iflag=fullblock
