#!/usr/bin/env bash
# A/B of sub-chunk dedup on one disk image: full CLI backups into fresh repositories with
# `init --subchunk-dedup off` and `on`, alternated, RUNS times each; prints wall and CPU time of the
# backup process, the load average around it, and the size of packs/ and index/.
# Usage: bench/scripts/subchunk-ab.sh IMAGE.raw [RUNS] [WORKDIR]
# (docs/performance.md, "2026-12-05, issue 18: 4 KiB duplicates"; restic's figure: restic backup IMAGE)
set -euo pipefail
image=$(readlink -f "$1"); runs=${2:-2}; work=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
sock="$work/nbd.sock"
qemu-nbd -r -f raw -k "$sock" -x disk --persistent "$image" & qpid=$!
trap 'kill $qpid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
for r in $(seq "$runs"); do
  for mode in off on; do
    repo="$work/repo-$mode-$r"
    rm -rf "$repo"
    "$here/blockmover" init --repo="$repo" --subchunk-dedup "$mode" >/dev/null
    before=$(cut -d' ' -f1 /proc/loadavg)
    t=$( { /usr/bin/time -f "%e %U %S" "$here/blockmover" backup --repo="$repo" --source="nbd+unix:///disk?socket=$sock" \
          --name=vm/disk0 --full --no-progress >/dev/null; } 2>&1 | tail -1 )
    read -r wall user sys <<<"$t"
    packs=$(du -sb "$repo/packs" | cut -f1); index=$(du -sb "$repo/index" | cut -f1)
    printf '%s run %s: wall %s s, cpu %.2f s, packs %.1f MiB, index %.1f MiB, load %s -> %s\n' "$mode" "$r" "$wall" \
      "$(echo "$user + $sys" | bc)" "$(echo "$packs / 1048576" | bc -l)" "$(echo "$index / 1048576" | bc -l)" \
      "$before" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
