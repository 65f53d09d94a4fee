#!/usr/bin/env bash
# Manual instant-restore measurement on the 2 GiB reference image (mirrors bench's ExportSteps).
set -eu
B=/work/wt/19/blockmover; W=/tmp/e19/ref; cd $W
[ -f ref.raw ] || /work/shared/bench/make-reference-image.sh ref.raw
$B esxsim --listen 127.0.0.1:0 --vms 1 --disks-per-vm 1 --disk-size 256M --image ref.raw --control 127.0.0.1:0 > esx.out 2> esx.err &
ESX=$!; trap 'kill $ESX $EXP $QN 2>/dev/null' EXIT; EXP=; QN=
until grep -q ready esx.out; do sleep 0.2; done
PORT=$(sed -n 's/.*nbd 127.0.0.1:\([0-9]*\).*/\1/p' esx.err); CTL=$(sed -n 's/.*control \(\S*\).*/\1/p' esx.err)
SNAP=$(curl -s -X POST "$CTL/snapshot?vm=ref&name=s1"); echo "$SNAP" | head -c 300; echo
EXPORT=$(echo "$SNAP" | jq -r '.disks[0].export // .[0].export'); CID=$(echo "$SNAP" | jq -r '.disks[0].changeId // .[0].changeId')
SNAPURI=nbd://127.0.0.1:$PORT/$EXPORT
if [ ! -d repo ]; then
$B init --repo repo >/dev/null
$B backup --repo repo --full --source $SNAPURI --name ref/disk0 --change-id $CID --no-progress | tail -2
$B restore --repo repo --to restored.raw --no-progress
fi
$B export --repo repo --listen 127.0.0.1:0 --cache-size 256M > exp.out 2> exp.err & EXP=$!
until grep -q ready exp.out; do sleep 0.2; done
URI=$(head -1 exp.out); echo "export $URI snapshot $SNAPURI"
for i in 1 2; do nbdcopy $URI null:; nbdcopy $SNAPURI null:; done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
EJ=$(pgrep -f "java.* export --repo repo" | head -1); SJ=$(pgrep -f "java.* esxsim --listen 127.0.0.1:0 --vms 1 --disks-per-vm 1 --disk-size 256M --image ref.raw" | head -1)
for i in 1 2 3 4 5; do
  a=$(cpu $EJ); /usr/bin/time -f "export %e s" nbdcopy $URI null:; b=$(cpu $EJ); echo "  export server cpu $((b-a)) ticks"
  a=$(cpu $SJ); /usr/bin/time -f "snapshot %e s" nbdcopy $SNAPURI null:; b=$(cpu $SJ); echo "  esxsim server cpu $((b-a)) ticks"
done 2>&1
QP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
qemu-nbd -r -f raw -b 127.0.0.1 -p $QP --persistent --shared=8 restored.raw & QN=$!
sleep 1
fiorun() { fio --name=r --ioengine=nbd --uri=$1 --rw=randread --bs=4k --iodepth=16 --numjobs=1 --offset=512m --size=128m --time_based --runtime=$2 --randrepeat=0 --output-format=json --output=$W/fio.json >/dev/null; jq '.jobs[0].read.iops' $W/fio.json; }
fiorun $URI 5 >/dev/null; fiorun nbd://127.0.0.1:$QP/ 5 > /dev/null
for i in 1 2 3; do echo "fio export $(fiorun $URI 10)"; echo "fio qemu-nbd $(fiorun nbd://127.0.0.1:$QP/ 10)"; done
uptime
