"""Solve puzzles as `SolveSettings` say: the one dispatch behind `sudoku-trm solve`, `eval` and `solve()`.

`solve_puzzles` runs the model alone, voting, commit decoding, guided search or adaptive solving, and
hands back a `SolvedBatch`: the answers, each method's own record, and per puzzle who found the answer
(`found_by`, in inference/found.py's words), model calls and guesses. Torch is imported only when they
run, so the command line can import this before frame 0 is on screen.

CPU threads: `cpu_threads` runs batches of fewer than SINGLE_THREAD_BELOW puzzles on one torch thread.
Small batches gain little from a second thread, and torch's threads wait for each other by spinning,
which costs dearly when another process holds a core. Measured on this project's 2-core machine (the
shipped model; other sessions kept the load at 2 to 7): with a busy loop on one core, the whole
`solve puzzles/easy.txt --json` took 5.3-5.6 s on one thread and 10-39 s on torch's default two (about
4 s either way without the loop); the model time of 1 / 16 / 64 puzzles (4 steps) was 0.09 / 1.4 / 7.3 s
on one thread against 4.3 / 7.7 / 12.6 s on two. Two threads won once, at 64 puzzles on a quieter
machine (43 s against 52 s, 16 steps), so batches of 32 and more keep torch's default. OMP_NUM_THREADS,
when set, is left alone.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from sudoku_trm.inference.found import (
    MODEL_ALONE,
    MORE_STEPS,
    OWN_CHAIN,
    RANDOM_RESTART,
    SYMMETRIC_COPY,
    UNSOLVED,
    VOTES,
)
from sudoku_trm.inference.settings import SolveSettings
from sudoku_trm.sudoku.grid import valid_solutions

if TYPE_CHECKING:
    from sudoku_trm.inference.adaptive import AdaptiveSolutions
    from sudoku_trm.inference.commit import CommitSolutions
    from sudoku_trm.inference.engine import Solutions
    from sudoku_trm.inference.search import SearchSolutions
    from sudoku_trm.inference.voting import VoteResult
    from sudoku_trm.model.trm import TRM

SINGLE_THREAD_BELOW = 32  # puzzles per model call; see the module docstring


@contextmanager
def cpu_threads(model: TRM, batch: int) -> Iterator[None]:
    """One torch thread while a CPU model runs batches of fewer than SINGLE_THREAD_BELOW puzzles (unless
    OMP_NUM_THREADS says otherwise); the thread count is restored afterwards."""
    import torch

    if next(model.parameters()).device.type != "cpu" or batch >= SINGLE_THREAD_BELOW or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class SolvedBatch:
    """What solving a batch gave: the answers, and how they came about under votes, commit decoding,
    guided search or adaptive solving (at most one of those is set)."""

    solutions: Solutions
    votes: VoteResult | None = None
    adaptive: AdaptiveSolutions | None = None
    committed: CommitSolutions | None = None
    searched: SearchSolutions | None = None

    @staticmethod
    def of(outcome: Solutions | VoteResult | AdaptiveSolutions | CommitSolutions | SearchSolutions) -> SolvedBatch:
        """Any solver's own result as a SolvedBatch (the live view runs the solvers itself)."""
        from sudoku_trm.inference.adaptive import AdaptiveSolutions
        from sudoku_trm.inference.commit import CommitSolutions
        from sudoku_trm.inference.search import SearchSolutions
        from sudoku_trm.inference.voting import VoteResult

        for kind, field in (
            (VoteResult, "votes"),
            (AdaptiveSolutions, "adaptive"),
            (CommitSolutions, "committed"),
            (SearchSolutions, "searched"),
        ):
            if isinstance(outcome, kind):
                return SolvedBatch(outcome.solutions, **{field: outcome})
        return SolvedBatch(outcome)

    def __len__(self) -> int:
        return len(self.solutions)

    @property
    def single(self) -> Solutions | None:
        """The model alone, one copy, single pass: shown beside any test-time compute, never replaced by it."""
        for outcome in (self.votes, self.committed, self.searched, self.adaptive):
            if outcome is not None:
                return outcome.single
        return None

    def found_by(self) -> list[str]:
        """Per puzzle, who found its answer (inference/found.py): solve's summary counts these words."""
        if self.searched is not None:
            return list(self.searched.found)
        if self.committed is not None:
            return self.committed.found_by()
        if self.adaptive is not None:
            return [self._adaptive_finder(i) for i in range(len(self))]
        valid = valid_solutions(self.solutions.puzzles, self.solutions.answers)
        finder = VOTES if self.votes is not None else MODEL_ALONE
        return [finder if ok else UNSOLVED for ok in valid]

    def _adaptive_finder(self, i: int) -> str:
        from sudoku_trm.inference.adaptive import Stage

        assert self.adaptive is not None
        stage = Stage(int(self.adaptive.stage[i]))
        if stage is Stage.MODEL:  # the first valid answer came from the own chain before it stopped
            single = self.adaptive.single
            return MODEL_ALONE if valid_solutions(single.puzzles[i], single.answers[i])[0] else OWN_CHAIN
        names = {Stage.STEPS: MORE_STEPS, Stage.COPIES: SYMMETRIC_COPY, Stage.RESTARTS: RANDOM_RESTART}
        return names.get(stage, UNSOLVED)

    def model_calls(self) -> np.ndarray:
        """(N,) runs of the model from a fresh start per puzzle: calls (search), rounds (commit decoding),
        chains (adaptive solving), copies (votes), else 1."""
        if self.searched is not None:
            return self.searched.calls.copy()
        if self.committed is not None:
            return self.committed.rounds.copy()
        if self.adaptive is not None:
            return self.adaptive.chains.copy()
        return np.full(len(self), 1 if self.votes is None else self.votes.votes, dtype=np.int64)

    def guesses(self) -> np.ndarray:
        """(N,) digits guided search tried at branch points (0 where nothing guesses)."""
        return self.searched.guesses.copy() if self.searched is not None else np.zeros(len(self), dtype=np.int64)


def solve_puzzles(
    model: TRM,
    grids: np.ndarray,
    settings: SolveSettings,
    progress: Callable[[int], None] | None = None,
    trace: bool = False,
    passes: bool = False,
) -> SolvedBatch:
    """Solve (N, 81) `grids` as `settings` say (resolved: not `auto`); `progress(done)` as puzzles finish,
    `trace` and `passes` keep every step (and recursion pass) where the model runs once."""
    if settings.effort == "auto":
        raise ValueError("resolve effort 'auto' first (SolveSettings.resolved)")
    inference = settings.inference(trace, passes)

    def done(count: int) -> None:
        if progress is not None:
            progress(count)

    with cpu_threads(model, min(settings.batch_size, len(grids) * settings.votes)):
        if settings.commit:
            from sudoku_trm.inference.commit import solve_committed

            committed = solve_committed(model, grids, settings.commit_config(), inference)
            done(len(grids))
            return SolvedBatch(committed.solutions, committed=committed)
        if settings.search:
            from sudoku_trm.inference.search import solve_searched

            searched = solve_searched(model, grids, settings.search_config(), inference)
            done(len(grids))
            return SolvedBatch(searched.solutions, searched=searched)
        budget = settings.adaptive_budget(model)
        if budget is not None:
            from sudoku_trm.inference.adaptive import solve_adaptive

            result = solve_adaptive(model, grids, budget, inference, settings.seed, lambda step: done(step.finished))
            done(len(grids))
            return SolvedBatch(result.solutions, adaptive=result)
        if settings.votes > 1:
            from sudoku_trm.inference.voting import solve_with_votes

            votes = solve_with_votes(model, grids, settings.votes, inference, settings.seed, progress)
            return SolvedBatch(votes.solutions, votes=votes)
        from sudoku_trm.inference import engine

        return SolvedBatch(engine.solve(model, grids, inference, progress))
