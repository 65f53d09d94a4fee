#!/usr/bin/env bash
# frames-bench.sh IMAGE OUT.jsonl [FRAME_SIZES] [CODECS] — what a repository's frame size costs and saves.
# Per (frame size, codec): init, `backup --full` of IMAGE served by qemu-nbd -r (wall, our CPU-s,
# qemu-nbd's CPU-s), repository size, `restore --to` a file (wall, CPU-s), and FrameReadCost (cold
# random chunk reads and a sequential read, per CPU-second). One JSON line per configuration, with
# the load average before each step. Defaults: frames 128K 512K 1M, codecs zstd:1 zstd:3.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
image=$1; out=$2
frames=${3:-"128K 512K 1M"}
codecs=${4:-"zstd:1 zstd:3"}
bm="$here/blockmover"
work=$(mktemp -d "${TMPDIR:-/tmp}/frames-bench.XXXXXX")
trap 'kill $(cat "$work/qemu.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
qemu-nbd -r -f raw -x fs -p "$port" -b 127.0.0.1 --persistent --pid-file "$work/qemu.pid" --fork "$image"
sleep 0.5
qpid=$(cat "$work/qemu.pid")
cp="$here/bench/target/bench-0.1.0-SNAPSHOT.jar:$here/bench/target/lib/*"
load() { cut -d' ' -f1 /proc/loadavg; }
qcpu() { awk '{print ($14+$15)/100}' "/proc/$qpid/stat"; }
timed() { # timed LOG cmd...: prints "wall user sys"
  local log=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > "$log" 2>&1
  cat "$work/time"
}
for codec in $codecs; do
  for frame in $frames; do
    repo="$work/repo"
    rm -rf "$repo" "$work/restored.raw"
    "$bm" init --repo "$repo" --compression "$codec" --frame-size "$frame" > /dev/null
    l1=$(load); q0=$(qcpu)
    read -r bw bu bs < <(timed "$work/backup.log" "$bm" backup --repo "$repo" --full --source "nbd://127.0.0.1:$port/fs" --name fs/d0 --no-progress)
    q1=$(qcpu)
    size=$(du -sb "$repo/packs" | cut -f1)
    l2=$(load)
    read -r rw ru rs < <(timed "$work/restore.log" "$bm" restore --repo "$repo" --to "$work/restored.raw")
    l3=$(load)
    reads=$(/usr/lib/jvm/temurin-25-jdk-amd64/bin/java --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$cp" io.blockmover.bench.jmh.FrameReadCost "$repo" 2000)
    printf '{"codec": "%s", "frameSize": "%s", "repositoryBytes": %s, "backupWall": %s, "backupCpu": %.2f, "qemuNbdCpu": %.2f, "loadBeforeBackup": %s, "restoreWall": %s, "restoreCpu": %.2f, "loadBeforeRestore": %s, "loadBeforeReads": %s, "reads": %s}\n' \
      "$codec" "$frame" "$size" "$bw" "$(echo "$bu + $bs" | bc)" "$(echo "$q1 - $q0" | bc)" "$l1" "$rw" "$(echo "$ru + $rs" | bc)" "$l2" "$l3" "$reads" | tee -a "$out"
  done
done
