#!/usr/bin/env bash
# CLI outputs on puzzles/ with the shipped weights, timings masked, one file per command, so two checkouts can
# be compared byte for byte (a refactor must not change them):
#   scripts/dev/cli_snapshot.sh /tmp/before /path/to/old-checkout
#   scripts/dev/cli_snapshot.sh /tmp/after .  &&  diff -r /tmp/before /tmp/after
# The checkout's own package runs (PYTHONPATH), with this environment's python (PYTHON, default python3).
set -u
out=$(realpath -m "$1"); repo=$(realpath "$2"); mkdir -p "$out"; cd "$repo"; export PYTHONPATH=$repo
B="${PYTHON:-python3} -m sudoku_trm"
export COLUMNS=100 OMP_NUM_THREADS=1
i=0
while IFS= read -r cmd; do
  i=$((i+1))
  { echo "\$ $cmd"; eval "$B $cmd" 2>&1; echo "exit $?"; } | sed -E 's/[0-9]+(\.[0-9]+)? ?(ms|s)\b/<T>/g; s/[0-9.,]+ puzzles\/s/<R> puzzles\/s/g; s/│ +[0-9.,]+ │$/│ <R> │/; s/"seconds": [0-9.e-]+/"seconds": <T>/g; s/"puzzles_per_second": [0-9.e+-]+/"puzzles_per_second": <R>/g' > "$out/$(printf %02d $i).txt"
done <<'CMDS'
check puzzles/easy.txt puzzles/hard.txt puzzles/very_hard.txt puzzles/named.txt puzzles/grids.txt puzzles/samples.csv puzzles/easter_monster.sdk puzzles/medium.txt
check --json puzzles/mixed_with_errors.txt
check puzzles/mixed_with_errors.txt
solve puzzles/easy.txt
solve puzzles/hard.txt --json
solve puzzles/very_hard.sdk --trace
solve puzzles/mixed_with_errors.txt
solve puzzles/named.txt --votes 4 --json
solve puzzles/samples.csv --steps 3
eval puzzles/easy.txt puzzles/medium.txt puzzles/samples.csv
eval puzzles/named.txt --votes 4 --json
eval puzzles/mixed_with_errors.txt --max-steps 5
solve nonexistent.txt
--help
solve --help
eval --help
train --help
check --help
download --help
CMDS
