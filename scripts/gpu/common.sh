# Sourced by the scripts beside it: the repository, the Python that runs it, the run folder's files.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEFAULT_DATA="$ROOT/gpu_data"
RUN="$ROOT/runs/gpu" # runs/ is git-ignored, so a run never shows in `git status`
DATA_FILES=(hard_train.csv clue17.csv unbiased_1k.csv hard_dev.csv)
SIZE_LIMIT=$((16 * 1024 * 1024)) # the lent machine returns files only below this size...
FILE_LIMIT=8                     # ...and at most this many of them

# The lent machine has a Python with the dependencies but no install of this package, so the source
# tree runs as it is (PYTHONPATH). A checkout with a virtual environment uses that.
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        PYTHON="$(command -v python3 || command -v python || echo python3)"
    fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Log lines reach train.log as they happen, not in 8 KiB bursts.
export PYTHONUNBUFFERED=1

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

absolute() { # a path made absolute against the current directory (it need not exist)
    case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac
}

run_pid() { cat "$RUN/pid" 2>/dev/null || true; }

# A run is live while its wrapper process is, and until the wrapper has written the exit code (a
# recycled pid is not mistaken for the run then).
is_running() {
    local pid
    pid="$(run_pid)"
    [[ -n $pid && ! -f $RUN/exit_code ]] && kill -0 "$pid" 2>/dev/null
}

# Where the trainer writes metrics.jsonl: runs-dir is the run folder, the name is the caller's.
metrics_file() {
    ls -t "$RUN"/*/metrics.jsonl 2>/dev/null | head -n 1 || true
}
