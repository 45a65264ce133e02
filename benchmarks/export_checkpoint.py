"""Export the EMA weights of a run's checkpoint, as `train --export` would at its end: for a run stopped
mid-way (SIGTERM or Ctrl-C saves its checkpoint), to score or ship where it stands without training on.

  python benchmarks/export_checkpoint.py runs/scratch-pdc runs/scratch-pdc/export
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sudoku_trm.model.config import ModelConfig  # noqa: E402
from sudoku_trm.model.trm import TRM  # noqa: E402
from sudoku_trm.model.weights import export_weights  # noqa: E402
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the run's folder (runs/NAME), holding checkpoint.pt")
    parser.add_argument("out", type=Path, help="where the export goes")
    args = parser.parse_args()
    state = load_checkpoint(args.run / CHECKPOINT_NAME)
    model = TRM(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["ema"])
    minutes = state["elapsed_seconds"] / 60
    training = {**state["train_config"], "steps_trained": state["step"], "minutes_trained": round(minutes, 1)}
    export_weights(model, args.out, training=training)
    print(f"{args.out}: the EMA of {args.run} at step {state['step']} ({minutes:.1f} min)")


if __name__ == "__main__":
    main()
