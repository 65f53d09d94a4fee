#!/usr/bin/env bash
# Usage: measure.sh LABEL LAUNCHER RUNS [export options...]
# Starts `export` of the run's repository with LAUNCHER, two untimed copies of each side, then RUNS
# timed nbdcopy -> null: copies of the export and of the emulated host's snapshot in turn.
# Prints: side wall-s client-user-s client-sys-s server-cpu-s, and the load average.
set -eu
LABEL=$1; B=$2; RUNS=$3; shift 3
W=/tmp/e19w/run; cd $W
SNAPURI=$(cat snap.uri); SJ=$(cat esx.pid)
$B export --repo repo --listen 127.0.0.1:0 "$@" > exp-$LABEL.out 2> exp-$LABEL.err & EXP=$!
trap 'kill $EXP 2>/dev/null; wait $EXP 2>/dev/null' EXIT
until grep -q ready exp-$LABEL.out; do sleep 0.1; done
URI=$(head -1 exp-$LABEL.out)
cpu() { awk '{printf "%d", $14+$15}' /proc/$1/stat; }
first() { a=$(cpu $EXP); t0=$(date +%s.%N); nbdcopy $URI null:; t1=$(date +%s.%N); b=$(cpu $EXP); echo "$LABEL first-copy $(echo "$t1 - $t0" | bc) s server $((b-a)) ticks"; }
[ "${FIRST:-0}" = 1 ] && first
for i in 1 2; do nbdcopy $URI null:; nbdcopy $SNAPURI null:; done
one() { # name uri pid
  local a b t
  a=$(cpu $3); t=$( { /usr/bin/time -f "%e %U %S" nbdcopy $NBDCOPY_OPTS $2 null: ; } 2>&1 ); b=$(cpu $3)
  echo "$LABEL $1 $t $(echo "scale=2; ($b-$a)/100" | bc)"
}
NBDCOPY_OPTS=${NBDCOPY_OPTS:-}
for i in $(seq $RUNS); do
  one export $URI $EXP
  one snapshot $SNAPURI $SJ
done
echo "$LABEL load $(cut -d' ' -f1-3 /proc/loadavg)"
