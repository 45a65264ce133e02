#!/usr/bin/env bash
# Wait for the run to end, evaluate its export on all of hard_dev.csv, and gather what should come back
# into OUTDIR: weights/ (the export, sharded past 15 MiB), metrics.jsonl, eval.json, train.log. Then
# check that every file is below 16 MiB and that there are at most 8 of them.
#
# usage: scripts/gpu/finish.sh OUTDIR [--run DIR] [--data-dir DIR] [--dev FILE] [--wait SECONDS]
#                              [-- EVAL OPTIONS]
#   --wait SECONDS  how long to wait for the run (default 540: inside a 10-minute command); past it,
#                   exit 3 with the run going on: call again
#   --dev FILE      what to evaluate (default: DATA/hard_dev.csv, every puzzle)
#   EVAL OPTIONS    passed to `sudoku-trm eval`, e.g. --votes 8
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

out="" data="$DEFAULT_DATA" dev="" wait=540
while (($#)); do
    case $1 in
        --run) RUN=${2:?--run needs a folder}; shift 2 ;;
        --data-dir) data=${2:?--data-dir needs a folder}; shift 2 ;;
        --dev) dev=${2:?--dev needs a file}; shift 2 ;;
        --wait) wait=${2:?--wait needs seconds}; shift 2 ;;
        -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [[ -z $out ]] || die "one OUTDIR only (got $out and $1)"; out=$1; shift ;;
    esac
done
[[ -n $out ]] || die "usage: finish.sh OUTDIR [--run DIR] [--wait SECONDS] (see --help)"
RUN="$(absolute "$RUN")"
dev="${dev:-$data/hard_dev.csv}"
[[ -f $RUN/train.log ]] || die "$RUN: no run there (start one with scripts/gpu/start.sh)"

for ((waited = 0; waited < wait; waited += 5)); do
    is_running || break
    sleep 5
done
if is_running; then
    tail -n 3 "$RUN/train.log"
    echo "$(basename "$0"): $RUN: still running after ${wait}s; call finish.sh again" >&2
    exit 3
fi

mkdir -p "$out"
# The log and metrics come back even from a failed run: they say why.
cp "$RUN/train.log" "$out/train.log"
metrics="$(metrics_file)"
[[ -z $metrics ]] || cp "$metrics" "$out/metrics.jsonl"
code="$(cat "$RUN/exit_code" 2>/dev/null || echo none)"
[[ $code == 0 ]] || die "$RUN: training failed (exit code $code); its log is in $out/train.log"
[[ -f $RUN/export/config.json ]] || die "$RUN/export: no exported model (see $out/train.log)"
[[ -n $metrics ]] || die "$RUN: no metrics.jsonl"

"$PYTHON" -m sudoku_trm eval "$dev" --weights "$RUN/export" --json "$@" >"$out/eval.json" ||
    die "evaluating $RUN/export on $dev failed"
rm -rf "$out/weights"
mkdir -p "$out/weights"
# Only the model's files: whatever else the export folder holds stays behind.
for file in "$RUN"/export/{config.json,README.md,model.safetensors,model.safetensors.index.json,model-*-of-*.safetensors}; do
    if [[ -f $file ]]; then cp "$file" "$out/weights/"; fi
done
"$PYTHON" - "$out/eval.json" <<'PY'
import json, sys
total = json.load(open(sys.argv[1]))["total"]
print(f"eval: {total['puzzles']} puzzles, grid accuracy {total['grid_accuracy']:.4f}, "
      f"cell accuracy {total['cell_accuracy']:.4f}, mean steps {total['mean_steps']:.2f}")
PY

# What the lent machine's return channel takes: files below 16 MiB, at most 8 of them.
count=0 problems=0
while IFS= read -r -d '' file; do
    count=$((count + 1))
    size=$(stat -c %s "$file" 2>/dev/null || stat -f %z "$file")
    if ((size >= SIZE_LIMIT)); then
        echo "$(basename "$0"): $file: $size bytes, not below 16 MiB" >&2
        problems=1
    fi
done < <(find "$out" -type f -print0)
if ((count > FILE_LIMIT)); then
    echo "$(basename "$0"): $out: $count files, more than the $FILE_LIMIT that come back" >&2
    problems=1
fi
((problems == 0)) || exit 1
echo "$out: $count files, each below 16 MiB"
ls -l "$out" "$out/weights"
