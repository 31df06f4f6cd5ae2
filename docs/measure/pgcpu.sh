#!/bin/bash
# pgcpu.sh BIN RECORDS: PostgreSQL's CPU time (its processes, reaped backends included,
# from /proc/<postmaster>/stat) over one whole PostgreSQL bench of build BIN, per run.
PM=$(pgrep -o -x postgres || pgrep -o postgres)
pgt() { python3 - "$PM" <<'P'
import os,sys
pm=sys.argv[1]; hz=os.sysconf('SC_CLK_TCK'); tot=0
def st(p):
    with open('/proc/%s/stat'%p) as f: s=f.read()
    return s[s.rindex(')')+2:].split()
a=st(pm); tot+=int(a[11])+int(a[12])+int(a[13])+int(a[14])   # utime stime cutime cstime
for p in os.listdir('/proc'):
    if not p.isdigit() or p==pm: continue
    try:
        a=st(p)
        if a[1]==pm: tot+=int(a[11])+int(a[12])
    except Exception: pass
print(tot/hz)
P
}
a=$(pgt); $1 bench --records $2 --json --database 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable' > /tmp/pgcpu.json 2>/dev/null; b=$(pgt)
python3 -c "
import json;r=json.load(open('/tmp/pgcpu.json'))
pg=($b-$a)*1000/$2
print('%s runs/s %d  process cpu %.3f ms/run  postgres cpu %.3f ms/run (whole bench, setup included)  stmts %.2f trips %.2f' % ('$1', r['runsPerSecond'], r['cpuMsPerRun'], pg, r['statementsPerRun'], r['roundTripsPerRun']))"
