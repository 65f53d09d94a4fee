#!/usr/bin/env bash
# `make run`: the whole product against the emulated ESX host, on one machine.
#  1. start the emulated host: one VM with two thin disks, a guest writing to them
#  2. full backup of snapshot s1 into ./data
#  3. let the guest write, snapshot s2, incremental backup using changed block tracking
#  4. restore the latest backup of one disk to a file and compare it with snapshot s2
#  5. verify the backup against the snapshot it was taken from (catches CBT misses)
# REPO=s3 (make run REPO=s3): the repository lives in a bucket of s3proxy, a real S3 server
# started here on loopback (filesystem backend under ./data-s3); credentials reach blockmover
# through the AWS chain (environment), as they would on a proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
BM=./blockmover
REPO=${REPO:-${BLOCKMOVER_REPO:-data}}
DISK_SIZE=${DEMO_DISK_SIZE:-4G}
work=$(mktemp -d)
esx_pid=""
s3_pid=""
cleanup() {
  [ -n "$esx_pid" ] && kill "$esx_pid" 2>/dev/null && wait "$esx_pid" 2>/dev/null || true
  [ -n "$s3_pid" ] && kill "$s3_pid" 2>/dev/null && wait "$s3_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting the emulated ESX host (1 VM, 2 x $DISK_SIZE thin disks, mixed content)"
$BM esxsim --listen 127.0.0.1:0 --control 127.0.0.1:0 --vms 1 --disks-per-vm 2 --disk-size "$DISK_SIZE" \
  --profile mixed --seed 42 >"$work/esx.log" 2>&1 &
esx_pid=$!
for _ in $(seq 1 100); do grep -q '^ready$' "$work/esx.log" && break; sleep 0.2; done
grep -q '^ready$' "$work/esx.log" || { echo "the emulated host did not start:"; cat "$work/esx.log"; exit 1; }
read -r nbd control < <(sed -n 's/^esxsim: nbd \([^ ]*\) control \(.*\)$/\1 \2/p' "$work/esx.log")
echo "NBD on $nbd, control API on $control"
snapshot() { # NAME -> prints "export changeId" per disk
  curl -fsS -X POST "$control/snapshot?vm=vm01&name=$1" | jq -r '.disks[] | "\(.export) \(.changeId)"'
}
backup_args() { # reads "export changeId" lines, prints --source/--change-id arguments
  while read -r export change; do printf -- '--source nbd://%s/%s --change-id %s ' "$nbd" "$export" "$change"; done
}

if [ "$REPO" = s3 ]; then
  step "starting s3proxy (a real S3 server, filesystem backend in ./data-s3) on loopback"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p data-s3
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo-secret AWS_REGION=us-east-1
  printf '%s\n' "s3proxy.endpoint=http://127.0.0.1:$port" s3proxy.authorization=aws-v2-or-v4 \
    "s3proxy.identity=$AWS_ACCESS_KEY_ID" "s3proxy.credential=$AWS_SECRET_ACCESS_KEY" \
    jclouds.provider=filesystem "jclouds.filesystem.basedir=$PWD/data-s3" >"$work/s3proxy.properties"
  "${JAVA_HOME:-$(./scripts/find-jdk 25)}/bin/java" -Xmx256m -jar index/target/s3proxy/s3proxy.jar --properties "$work/s3proxy.properties" \
    >"$work/s3proxy.log" 2>&1 &
  s3_pid=$!
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
  export BLOCKMOVER_S3_ENDPOINT="http://127.0.0.1:$port"
  REPO=s3://demo/repo
  echo "S3 endpoint $BLOCKMOVER_S3_ENDPOINT, repository $REPO"
  $BM list --repo "$REPO" >/dev/null 2>&1 || { step "creating the repository $REPO"; $BM init --repo "$REPO"; }
else
  [ -d "$REPO" ] || { step "creating the repository $REPO"; $BM init --repo "$REPO"; }
fi
if grep -qx 'formatVersion=1' "$REPO/config" 2>/dev/null; then
  # Left by an older build: its packs stay as they are, only the index is rebuilt (docs/chunk-store.md).
  step "upgrading $REPO from format 1: rebuilding its index from the packs"
  $BM rebuild-index --repo "$REPO"
fi

step "the guest starts writing at 2 MB/s (random 64 KiB writes)"
curl -fsS -X POST "$control/churn?rate=2M" >/dev/null

step "snapshot s1 and a full backup"
snapshot s1 >"$work/s1"
# shellcheck disable=SC2046
$BM backup --repo "$REPO" --full --label "make run: full" $(backup_args <"$work/s1")
curl -fsS -X POST "$control/remove-snapshot?vm=vm01&name=s1" >/dev/null

step "the guest keeps writing for 5 s, then snapshot s2 and an incremental backup"
sleep 5
snapshot s2 >"$work/s2"
# shellcheck disable=SC2046
$BM backup --repo "$REPO" --label "make run: incremental" $(backup_args <"$work/s2")

step "restore disk-2000 of the latest backup and compare it with snapshot s2"
$BM restore --repo "$REPO" --vm vm01 --disk disk-2000 --to "$work/disk-2000.raw"
nbdcopy "nbd://$nbd/vm01/disk-2000@s2" "$work/snapshot.raw"
cmp "$work/disk-2000.raw" "$work/snapshot.raw" && echo "restored disk is byte-identical to snapshot s2"

step "verify the latest backup against the snapshot it was taken from"
$BM verify --repo "$REPO" --vm vm01 --disk disk-2001 --against "nbd://$nbd/vm01/disk-2001@s2"
curl -fsS -X POST "$control/remove-snapshot?vm=vm01&name=s2" >/dev/null

step "the repository"
$BM list --repo "$REPO"
$BM stats --repo "$REPO"
echo
echo "Explore it: ./blockmover list | show ID | restore | verify | stats   (--repo $REPO)"
