"""How to solve: the effort and its knobs, as `sudoku-trm solve --effort ...` and `solve(effort=...)` take them.

`SolveSettings` is plain data and imports no torch (the command line builds one before `--help` or frame 0
could wait on it); what each effort means is decided here and nowhere else:

- `off`: the model alone (with `votes` above 1: symmetric copies and a vote, inference/voting.py);
- `commit`: commit decoding (inference/commit.py);
- `search`: guided search within `budget` model calls, then the exact solver (inference/search.py);
- `fast`, `default`, `thorough`: adaptive solving's presets, capped at `budget` model steps
  (inference/adaptive.py); `off` with a `budget` is the `default` preset so capped;
- `auto`: `search`, unless the settings ask to watch the model alone (`resolved`).

`solving.solve_puzzles` runs what the settings say.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sudoku_trm.inference.adaptive import Budget
    from sudoku_trm.inference.commit import CommitConfig
    from sudoku_trm.inference.engine import InferenceConfig
    from sudoku_trm.inference.search import SearchConfig
    from sudoku_trm.model.trm import TRM

# Repeated from the modules that define them, which import torch (a test holds them equal).
PRESETS = ("fast", "default", "thorough")  # adaptive.PRESETS
EFFORTS = ("auto", "off", "commit", "search", *PRESETS)
SEARCH_BUDGET = 16  # search.DEFAULT_BUDGET: model calls per puzzle
# One-guess children run side by side where the search stalls (inference/probes.py); chosen by
# benchmarks/search.py (docs/test-time-compute.md "Probes in the search").
SEARCH_PROBES = 32
COMMIT_THRESHOLD = 0.9  # commit.DEFAULT_THRESHOLD
# `solve`'s default --time-limit: model seconds per puzzle before the exact solver finishes. Chosen by
# benchmarks/search.py (docs/test-time-compute.md "Probes in the search"): with probes, 1 s lets the model find
# 20% of forum-hardest puzzles itself (0.5 s: none, the first call spends it) at about 1.8 s of model time a
# puzzle on the 2-core development CPU. eval and the Python API keep no limit, so that their figures do not
# depend on the machine's load.
SOLVE_TIME_LIMIT = 1.0


@dataclass(frozen=True)
class SolveSettings:
    """How many steps, copies and calls the model gets, and what is done around it."""

    steps: int | None = None  # exactly this many steps, whatever the halting head says
    max_steps: int | None = None  # None: the model's own limit
    votes: int = 1
    seed: int = 0  # of the symmetries drawn for votes and adaptive solving
    batch_size: int = 256
    bf16: bool = True
    effort: str = "off"  # one of EFFORTS; "auto" until `resolved`
    budget: int | None = None  # adaptive: model steps per puzzle at most (alone: the default preset); search: calls
    commit_threshold: float = COMMIT_THRESHOLD  # commit and search: a cell this sure becomes a given
    time_limit: float | None = None  # search: seconds of model time per puzzle, then the exact solver (None: no limit)
    probes: int = SEARCH_PROBES  # search: one-guess children run at once where the search stalls (0: branch at once)

    def __post_init__(self) -> None:
        # Each value alone (the command line's flags check the same before any of this runs).
        if self.effort not in EFFORTS:
            raise ValueError(f"effort must be one of {', '.join(EFFORTS)}, not {self.effort!r}")
        if not 0.0 < self.commit_threshold <= 1.0:
            raise ValueError(f"commit_threshold must lie in (0, 1], not {self.commit_threshold:g}")
        for name in ("steps", "max_steps", "budget"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be positive, not {self.time_limit:g}")
        if self.probes < 0:
            raise ValueError(f"probes must be at least 0, not {self.probes}")
        if self.votes < 1 or self.batch_size < 1:
            raise ValueError("votes and batch_size must be at least 1")

    @property
    def commit(self) -> bool:
        return self.effort == "commit"

    @property
    def search(self) -> bool:
        return self.effort == "search"

    @property
    def adaptive(self) -> bool:
        return self.effort in PRESETS or (self.effort == "off" and self.budget is not None)

    def resolved(self, watch_alone: bool) -> SolveSettings:
        """`auto` made concrete: guided search, which answers every valid puzzle validly, unless the caller
        asks to watch the model alone (`watch_alone`: a fixed step count, votes, a trace) and gives no budget."""
        if self.effort != "auto":
            return self
        return replace(self, effort="off" if watch_alone and self.budget is None else "search")

    def conflict(self, trace: bool = False) -> str | None:
        """What in these (resolved) settings cannot go together, in words, or None. The command line says
        the same in its own flags' words before it builds them."""
        if self.steps is not None and self.max_steps is not None:
            return "give one of steps (exactly N steps) and max_steps (a cap the model may halt before)"
        several_runs = self.adaptive or self.commit or self.search
        if several_runs and (self.steps is not None or self.votes > 1):
            return f"effort {self.effort!r} stops each puzzle by itself: give it without steps and votes"
        if self.commit and self.budget is not None:
            return "budget bounds adaptive solving and search; commit decoding stops when nothing new is sure"
        if several_runs and trace:
            return f"a trace records one run's steps; effort {self.effort!r} runs several: use effort 'off'"
        return None

    def inference(self, trace: bool = False, passes: bool = False) -> InferenceConfig:
        from sudoku_trm.inference.engine import InferenceConfig

        return InferenceConfig(
            max_steps=self.max_steps,
            steps=self.steps,
            batch_size=self.batch_size,
            bf16=self.bf16,
            trace=trace,
            passes=passes,
        )

    def search_config(self) -> SearchConfig:
        from sudoku_trm.inference.search import SearchConfig

        return SearchConfig(
            self.budget or SEARCH_BUDGET, self.commit_threshold, time_limit=self.time_limit, probes=self.probes
        )

    def commit_config(self) -> CommitConfig:
        from sudoku_trm.inference.commit import CommitConfig

        return CommitConfig(self.commit_threshold)

    def decoding(self) -> CommitConfig | SearchConfig | None:
        """The decoding the effort runs (commit or search), or None for the model alone and adaptive solving."""
        if self.search:
            return self.search_config()
        return self.commit_config() if self.commit else None

    def adaptive_budget(self, model: TRM) -> Budget | None:
        """The preset the effort names (default when only a budget is given), capped at `budget`; None when
        the effort is not adaptive solving."""
        if not self.adaptive:
            return None
        from sudoku_trm.errors import UserError
        from sudoku_trm.inference.adaptive import preset

        horizon = self.inference().step_limit(model)
        plan = preset("default" if self.effort == "off" else self.effort, horizon)
        if self.budget is None:
            return plan
        try:
            return replace(plan, work=self.budget).resolve(horizon)
        except ValueError as error:
            raise UserError(f"--budget: {error}") from None
