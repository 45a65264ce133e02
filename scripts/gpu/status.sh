#!/usr/bin/env bash
# How the run is doing: running or ended (and how), the last log lines, the latest metrics records.
#
# usage: scripts/gpu/status.sh [--run DIR] [--lines N]
#   exit status: 0 running or finished well, 1 failed or never started
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

lines=8
while (($#)); do
    case $1 in
        --run) RUN=${2:?--run needs a folder}; shift 2 ;;
        --lines) lines=${2:?--lines needs a number}; shift 2 ;;
        -h | --help) sed -n '2,5s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
RUN="$(absolute "$RUN")"
[[ -f $RUN/train.log ]] || die "$RUN: no run there (start one with scripts/gpu/start.sh)"

status=0
if is_running; then
    pid="$(run_pid)"
    echo "$RUN: running, pid $pid, for $(ps -o etime= -p "$pid" | tr -d ' ')"
elif [[ -f $RUN/exit_code ]]; then
    code="$(cat "$RUN/exit_code")"
    if [[ $code == 0 ]]; then echo "$RUN: finished"; else echo "$RUN: failed (exit code $code)"; status=1; fi
else
    echo "$RUN: ended without an exit code (killed?)"
    status=1
fi
echo "-- train.log (last $lines lines)"
tail -n "$lines" "$RUN/train.log"
metrics="$(metrics_file)"
if [[ -n $metrics ]]; then
    echo "-- $metrics: latest training record, then latest dev evaluation"
    grep -v '"eval"' "$metrics" | tail -n 1 || true
    grep '"eval"' "$metrics" | tail -n 1 || true
fi
if command -v nvidia-smi >/dev/null; then
    echo "-- GPU: $(nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader | head -n 1)"
fi
exit $status
