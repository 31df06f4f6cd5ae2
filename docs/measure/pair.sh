#!/bin/bash
# pair.sh A B [N] [RECORDS]: bursts of RECORDS (20000) with builds A and B of autohook,
# alternated N (3) times, on SQLite and on PostgreSQL (database bench), one line each:
# the figures of docs/PERFORMANCE.md. Example: docs/measure/pair.sh /tmp/before /tmp/after
A=$1; B=$2; N=${3:-3}; R=${4:-20000}
PG='postgres://postgres@127.0.0.1:5432/bench?sslmode=disable'
show() { python3 -c "
import json,sys
r=json.load(sys.stdin)
print('%-10s %-8s runs/s %6d  base %6d  ratio %.3f  stmts %5.2f  trips %5.2f  bytes %5d  cpu %.3f  p50 %5.1f p99 %5.1f rss %d' % ('$1','$2',r['runsPerSecond'],r['baselineRequestsPerSecond'],r['ratio'],r['statementsPerRun'],r.get('roundTripsPerRun',0),r['bytesPerRun'],r['cpuMsPerRun'],r['latencyMs']['p50'],r['latencyMs']['p99'],r['peakRSSBytes']>>20))
"; }
for i in $(seq $N); do
  for b in $A $B; do
    $b bench --records $R --json 2>/dev/null | show $(basename $b) sqlite
  done
  for b in $A $B; do
    $b bench --records $R --json --database "$PG" 2>/dev/null | show $(basename $b) pg
  done
done
