#!/usr/bin/env bash
# A/B of the training recipes on a CPU: `--recipe trm` against `--recipe fast`, each with and without PDC
# (`--curriculum cgar` against `hsw`: HSW stays on in every arm), then every arm's exported model scored
# on the dev files.
#
# The four arms train at the same time, one torch thread each, for the same wall-clock budget: whatever
# else loads the machine meanwhile slows all four alike. Both recipes keep their published values except
# two that a CPU run cannot afford: the batch (64 for every arm, against 768 and 384) and trm's 2,000
# warm-up steps (100 here: 2,000 would not end inside the run).
#
#   bash benchmarks/recipe_ab.sh [OUT_DIR] [MINUTES] [EVAL_LIMIT]
#
# OUT_DIR (default runs/recipe-ab) receives runs/<arm>/, <arm>.eval.json and table.md. No dev evaluation
# during training (`--dev ""`): it would run inside the budget, three times dearer for fast's depth (6, 9);
# every arm is scored afterwards on the first EVAL_LIMIT puzzles (default 200) of each dev file.
set -euo pipefail

out=${1:-runs/recipe-ab}
minutes=${2:-40}
limit=${3:-200}
data=${SUDOKU_TRM_DATA:-../shared/data}
python=${PYTHON:-python}
mkdir -p "$out"

arms=(trm-cgar trm-hsw fast-cgar fast-hsw)
for arm in "${arms[@]}"; do
    # An arm already trained and exported (an earlier call) is only scored again, never retrained.
    [[ -f "$out/runs/$arm/export/config.json" ]] && continue
    recipe=${arm%-*}
    curriculum=${arm#*-}
    extra=()
    [[ $recipe == trm ]] && extra=(--warmup-steps 100)
    OMP_NUM_THREADS=1 "$python" -m sudoku_trm train --recipe "$recipe" --curriculum "$curriculum" \
        --data "$data/hard_train.csv" --dev "" \
        --hidden-size 64 --batch-size 64 --easier-share 0.5 --time-budget "$minutes" --seed 0 \
        --device cpu --runs-dir "$out/runs" --name "$arm" --export "$out/runs/$arm/export" \
        "${extra[@]}" > "$out/$arm.train.log" 2>&1 &
done
wait

for arm in "${arms[@]}"; do
    OMP_NUM_THREADS=2 "$python" -m sudoku_trm eval "$data/hard_dev.csv" "$data/unbiased_1k.csv" \
        --weights "$out/runs/$arm/export" --device cpu --limit "$limit" --json > "$out/$arm.eval.json"
done

"$python" - "$out" "${arms[@]}" <<'EOF'
import json, sys
from pathlib import Path

out, arms = Path(sys.argv[1]), sys.argv[2:]
lines = [
    "| arm | optimiser steps | hard_dev exact | hard_dev blank cells | unbiased_1k exact | unbiased_1k blank cells |",
    "| --- | --- | --- | --- | --- | --- |",
]
for arm in arms:
    files = {Path(f["file"]).name: f for f in json.loads((out / f"{arm}.eval.json").read_text())["files"]}
    records = [json.loads(line) for line in (out / "runs" / arm / "metrics.jsonl").read_text().splitlines()]
    steps = max(r.get("step", 0) for r in records)
    cells = [f"{files[name][key]:.1%}" for name in ("hard_dev.csv", "unbiased_1k.csv")
             for key in ("grid_accuracy", "cell_accuracy")]
    lines.append(f"| {arm} | {steps:,} | " + " | ".join(cells) + " |")
(out / "table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
