#!/usr/bin/env bash
# Soak test of the suite: a fresh clone of this repository's HEAD, the README's install,
# then the README's test command N times in a row (default 10) while benchmarks/soak_load.py
# holds 2 GiB and keeps one core busy. Prints one line per run: exit status, seconds, the
# pytest summary and the load average; each run's output is kept in LOG_DIR/runK.log.
#
#   bash benchmarks/soak_suite.sh [N] [LOG_DIR]
#
# Takes 11-14 minutes a run on 2 cores under that load (docs/testing.md).
set -u
runs=${1:-10}
logs=$(realpath -m "${2:-soak_logs}")
mkdir -p "$logs"
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
d=$(mktemp -d /tmp/soak.XXXX)
echo "clone: $d"
git clone -q "$repo" "$d" && cd "$d" && git log --oneline -1
t0=$(date +%s)
python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e ".[dev,ssl]" > "$logs/install.log" 2>&1
echo "install rc=$? in $(( $(date +%s) - t0 )) s"
python3 benchmarks/soak_load.py & load=$!
trap 'kill $load' EXIT
echo "load pid $load"
sleep 5
failed=0
for i in $(seq 1 "$runs"); do
  s=$(date +%s)
  .venv/bin/python -m pytest -q > "$logs/run$i.log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
  echo "run $i rc=$rc $(( $(date +%s) - s )) s $(tail -1 "$logs/run$i.log") load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "$((runs - failed)) of $runs runs passed"
[ "$failed" -eq 0 ]
