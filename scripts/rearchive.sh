#!/bin/bash
# Re-run paper-profile pages one after another and archive each that succeeds — what every archive needs after a
# change to code in its fingerprint (`oodrepro archive check` lists the stale ones; `oodrepro archive list` gives
# each archive's command, whose -p values a spec repeats). Run two lanes side by side on a 2-core machine.
#
#   scripts/rearchive.sh NAME RESULTS_DIR "PAGE|RUN ARGS|ARCHIVE ARGS" ...
#   setsid nohup scripts/rearchive.sh A runs/paper28 "kpca/main||" \
#       "kpca/motivation||--networks-of runs/paper28/kpca/main.json" > /tmp/laneA.log 2>&1 &
#
# A page that reads networks from the cache which another page's run loaded from checkpoints/ lists fewer of them:
# name that run with --networks-of (kpca's pages after kpca/main). The log prints each page's start, wall time and
# load; read it with `tr '\r' '\n' < LOG | grep -a ===` (progress bars). OODREPRO_DATA_ROOT defaults to ../shared/data.
set -u
cd "$(dirname "$0")/.."
name=$1; rd=$2; shift 2
export OODREPRO_DATA_ROOT=${OODREPRO_DATA_ROOT:-../shared/data} OMP_NUM_THREADS=1
for spec in "$@"; do
  IFS='|' read -r page extra aargs <<< "$spec"
  echo "=== $page start $(date -u +%FT%TZ) load $(cut -d' ' -f1 /proc/loadavg)"
  cmd=".venv/bin/oodrepro run $page --profile paper $extra -p results_dir $rd --out /tmp/pb-$name --force"
  echo "CMD $cmd"
  s=$(date +%s)
  if eval "$cmd"; then
    echo "=== $page ran in $(( $(date +%s) - s )) s, end $(date -u +%FT%TZ) load $(cut -d' ' -f1 /proc/loadavg)"
    if eval ".venv/bin/oodrepro archive add $page --results-dir $rd $aargs"; then echo "=== $page ARCHIVED"
    else echo "=== $page ARCHIVE FAILED"; fi
  else
    echo "=== $page FAILED after $(( $(date +%s) - s )) s"
  fi
done
echo "=== lane $name done $(date -u +%FT%TZ)"
