"""Write benchmarks/results/fixture_sweep_puzzles.csv: puzzles the test fixture model (tests/fixtures/solver_model)
solves only sometimes, to show what test-time compute buys on a model that solves something.

The answers are 200 grids of ../shared/data/unbiased_1k.csv that the fixture model never saw (the 200 after
its held-out set, as tests/fixtures/make_solver_model.py picks them), each with 16 to 40 random cells blanked
(seeded); puzzles with more than one solution are dropped (157 remain).

    python benchmarks/fixture_sweep_set.py
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import make_solver_model as fixture

OUT = ROOT / "benchmarks" / "results" / "fixture_sweep_puzzles.csv"


def main() -> None:
    answers = fixture.unseen_answers(fixture.SHARED / "unbiased_1k.csv")[500:700]
    questions = fixture.blank(answers, 16, 40, np.random.default_rng(0))
    keep = fixture.unique(questions)
    fixture.write_csv(OUT, questions[keep], answers[keep])
    print(f"{int(keep.sum())} puzzles ({(questions[keep] == 0).sum(1).min()} to 40 blanks) -> {OUT}")


if __name__ == "__main__":
    main()
