#!/usr/bin/env bash
# Start `sudoku-trm train` detached (its own session, so it outlives the shell and a 10-minute command
# limit) from the source tree, and return at once. Poll with status.sh; collect with finish.sh.
#
# usage: scripts/gpu/start.sh [--run DIR] [--data-dir DIR] [--] [TRAIN OPTIONS...]
#   --run DIR       the run folder (default: runs/gpu): train.log, pid, exit_code, export/, and the
#                   trainer's own folder <name>/ with metrics.jsonl and checkpoint.pt
#   --data-dir DIR  the packed puzzles (default: gpu_data/, filled by pack_data.sh)
#   TRAIN OPTIONS   passed to `sudoku-trm train` as given, e.g. --recipe fast --time-budget 20
#                   --init-from weights/. Added unless given: --data for each of DIR/hard_train.csv,
#                   clue17.csv and unbiased_1k.csv (the full recipe's mix), --dev DIR/hard_dev.csv,
#                   --name gpu. Always set here: --runs-dir and --export.
#                   A path under ../shared/data/ is read from the packed folder instead.
# Environment: PYTHON (default: .venv/bin/python if present, else python3).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

data="$DEFAULT_DATA"
while (($#)); do
    case $1 in
        --run) RUN=${2:?--run needs a folder}; shift 2 ;;
        --data-dir) data=${2:?--data-dir needs a folder}; shift 2 ;;
        -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --) shift; break ;;
        *) break ;;
    esac
done
RUN="$(absolute "$RUN")"
data="$(absolute "$data")"

args=()
has_data=0 has_dev=0 has_name=0 resume=0
for arg in "$@"; do
    case $arg in
        --runs-dir | --runs-dir=* | --export | --export=*)
            die "$arg: start.sh sets --runs-dir and --export itself (choose the folder with --run DIR)" ;;
        --data | --data=*) has_data=1 ;;
        --dev | --dev=*) has_dev=1 ;;
        --name | --name=*) has_name=1 ;;
        --resume) resume=1 ;;
    esac
    # The trainer's defaults and a local command line name ../shared/data/; here it is the packed copy.
    arg="${arg/#..\/shared\/data\//$data/}"
    arg="${arg/=..\/shared\/data\//=$data/}"
    args+=("$arg")
done
# The two training files; unbiased_1k and hard_dev are dev sets, never trained on.
((has_data)) || args+=(--data "$data/hard_train.csv" --data "$data/clue17.csv")
((has_dev)) || args+=(--dev "$data/hard_dev.csv")
((has_name)) || args+=(--name gpu)
args+=(--runs-dir "$RUN" --export "$RUN/export")
needed=()
((has_data)) || needed+=(hard_train.csv clue17.csv)
((has_dev)) || needed+=(hard_dev.csv)
for name in "${needed[@]}"; do
    [[ -f $data/$name ]] || die "$data/$name: missing; run scripts/gpu/pack_data.sh first (or pass --data and --dev)"
done

if is_running; then
    die "$RUN: a run is going on (pid $(run_pid)); wait for it (finish.sh) or stop it: kill -INT -- -$(run_pid)"
fi
# A start that failed at once (a mistyped option) left no checkpoint: trying again is fine then.
if compgen -G "$RUN/*/checkpoint.pt" >/dev/null && ((!resume)); then
    die "$RUN: holds an earlier run; pass --resume to continue it, or --run NEWDIR (or delete the folder)"
fi
mkdir -p "$RUN"
rm -f "$RUN/pid" "$RUN/exit_code"
command=("$PYTHON" -m sudoku_trm train "${args[@]}")
echo "# $(date -u +%FT%TZ) $(printf '%q ' "${command[@]}")" >>"$RUN/train.log"

# The wrapper shell writes its own pid (with setsid it leads a new session and process group, so
# `kill -INT -- -PID` reaches the trainer and its workers) and, when the trainer ends, its exit code.
wrapper='echo $$ >"$0/pid"; "$@"; echo $? >"$0/exit_code"'
detach=(nohup)
if command -v setsid >/dev/null; then detach=(setsid nohup); fi
"${detach[@]}" bash -c "$wrapper" "$RUN" "${command[@]}" >>"$RUN/train.log" 2>&1 </dev/null &

for _ in $(seq 50); do # the pid file, within 5 s
    [[ -s $RUN/pid ]] && break
    sleep 0.1
done
[[ -s $RUN/pid ]] || die "$RUN: the run did not start; see $RUN/train.log"
# A mistyped option fails within seconds: show it here rather than at the first poll.
for _ in $(seq "${START_CHECK_SECONDS:-5}"); do
    is_running || break
    sleep 1
done
if ! is_running && [[ "$(cat "$RUN/exit_code" 2>/dev/null)" != 0 ]]; then
    tail -n 5 "$RUN/train.log" >&2
    die "$RUN: training stopped at once (exit code $(cat "$RUN/exit_code" 2>/dev/null || echo unknown))"
fi
echo "started: pid $(run_pid), log $RUN/train.log"
echo "poll: scripts/gpu/status.sh --run $RUN    collect: scripts/gpu/finish.sh OUTDIR --run $RUN"
