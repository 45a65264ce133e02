"""Adaptive solving: more model work only for the puzzles that need it, and none once an answer is proven.

Sudoku gives what a language model never has: an exact check. Every answer of every step is checked
against the rules and the givens, and the first one that passes ends its puzzle's work at once. A
puzzle goes through stages until one of its chains (runs of the model from a fresh start) finds one:

1. `model`: the puzzle's own chain, exactly as the model runs alone: it stops where the halting head
   says halt, or at the step limit (the trained horizon). Its answer there is the single-pass answer,
   kept in `AdaptiveSolutions.single` for the model's own figure. If that answer is valid, or an
   earlier step's was, the puzzle is done.
2. `steps`: the same chain goes on past where it stopped, up to `budget.steps` steps in all (beyond
   the horizon the model was trained for, when that is more).
3. `copies`: fresh chains on symmetric copies of the puzzle (digit relabelling, band/stack and
   row/column permutations, transpose), all started together, each for up to `budget.copy_steps` steps.
   Their answers are mapped back to the puzzle before they are checked.
4. `restarts`: fresh chains on the puzzle itself from a random latent state z (the answer state starts
   as usual), all together, as long as the copies' chains.

Work is counted in model steps (one supervision step of one chain); a puzzle never gets more than
`budget.work`. A stage starts as many chains as the remaining work allows, shortened to fit.

Chains of every puzzle and stage share the model's batches: puzzles are taken in as rows free up
(at most `config.batch_size` rows, unless one puzzle's copies alone need more), so a batch never waits
for its slowest puzzle. `adaptive_steps` yields each batch step (the live view draws them);
`solve_adaptive` drains it.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Generator

import numpy as np
import torch

from sudoku_trm.inference.engine import InferenceConfig, Solutions, as_grids, finish
from sudoku_trm.model.devices import autocast_for
from sudoku_trm.model.readout import best_digits, says_halt
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.model.trm import TRM, Carry
from sudoku_trm.sudoku import augment
from sudoku_trm.sudoku.grid import CELLS, valid_solutions


class Stage(enum.IntEnum):
    """Where an answer was found (or a chain is); UNSOLVED: no chain found a valid answer."""

    MODEL = 0
    STEPS = 1
    COPIES = 2
    RESTARTS = 3
    UNSOLVED = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Budget:
    """How much a puzzle may get; None fields take the model's step limit (its trained horizon)."""

    steps: int | None = None  # steps of the puzzle's own chain, in all
    copies: int = 0  # chains on symmetric copies
    copy_steps: int | None = None  # steps of each copy's (and restart's) chain
    restarts: int = 0  # chains on the puzzle from a random latent start
    work: int | None = None  # model steps per puzzle at most, over all chains (None: all of the above)

    def resolve(self, horizon: int) -> "Budget":
        """Every field an int, for a model whose own run takes at most `horizon` steps."""
        steps = max(self.steps or horizon, horizon)
        copy_steps = self.copy_steps or horizon
        planned = steps + (self.copies + self.restarts) * copy_steps
        work = planned if self.work is None else self.work
        if work < horizon:
            raise ValueError(
                f"a budget of {work} model steps is less than the model's own run ({horizon} steps): "
                "lower the step limit instead"
            )
        if min(self.copies, self.restarts) < 0 or copy_steps < 1:
            raise ValueError("copies and restarts must be >= 0, copy steps >= 1")
        return Budget(min(steps, work), self.copies, copy_steps, self.restarts, work)

    def describe(self) -> str:
        parts = [f"own chain {self.steps} steps"]
        if self.copies:
            parts.append(f"{self.copies} copies x {self.copy_steps}")
        if self.restarts:
            parts.append(f"{self.restarts} restarts x {self.copy_steps}")
        return ", ".join(parts) + f"; at most {self.work} model steps a puzzle"


def preset(name: str, horizon: int) -> Budget:
    """The named budgets, in multiples of the model's horizon H. fast: the own chain to 2H (worst case 2x
    the model alone); default: then 8 symmetric copies of H steps (10x); thorough: own chain to 4H, then
    16 copies and 8 random restarts of 2H steps each (52x)."""
    presets = {
        "fast": Budget(steps=2 * horizon),
        "default": Budget(steps=2 * horizon, copies=8, copy_steps=horizon),
        "thorough": Budget(steps=4 * horizon, copies=16, copy_steps=2 * horizon, restarts=8),
    }
    if name not in presets:
        raise ValueError(f"effort must be one of {', '.join(presets)}, got {name!r}")
    return presets[name].resolve(horizon)


PRESETS = ("fast", "default", "thorough")


@dataclass(frozen=True)
class ChainStep:
    """One batch step of `adaptive_steps`: every chain that ran, its answer mapped back to its puzzle."""

    puzzles: np.ndarray  # (R,) the puzzle (index into the input) each chain belongs to
    chains: np.ndarray  # (R,) 0: the puzzle's own; 1..copies: copies; then restarts
    stages: np.ndarray  # (R,) Stage of each chain at this step
    steps: np.ndarray  # (R,) the chain's step, 1-based
    limits: np.ndarray  # (R,) the chain's last step
    answers: np.ndarray  # (R, 81) uint8, in the puzzle's own orientation, givens kept
    confidence: np.ndarray  # (R, 81) float32
    halt_probability: np.ndarray  # (R,)
    valid: np.ndarray  # (R,) bool: the answer obeys every rule and given
    solved: np.ndarray  # (K,) puzzles whose work ended at this step with a valid answer
    finished: int  # puzzles whose work has ended so far (solved, or out of budget)
    horizon: int  # the model's own step limit: a chain step beyond it is "beyond training"


@dataclass
class AdaptiveSolutions:
    """What adaptive solving made of N puzzles; `solutions` is what scoring and display read."""

    solutions: Solutions  # the answers: the first valid one found, else the model's own; steps = work
    single: Solutions  # the model alone (stage `model`): its answers, steps, halting; the single-pass figure
    stage: np.ndarray  # (N,) Stage that found the answer (UNSOLVED: none)
    chain: np.ndarray  # (N,) the chain that found it (0: the puzzle's own, -1: none)
    found_step: np.ndarray  # (N,) that chain's step (0: none)
    work: np.ndarray  # (N,) model steps spent on the puzzle, over all its chains
    chains: np.ndarray  # (N,) chains started for the puzzle
    budget: Budget
    seconds: float

    def __len__(self) -> int:
        return len(self.stage)

    def record(self, i: int) -> dict:
        """Puzzle `i`'s stage and cost, JSON-ready; the single-pass answer's validity beside them."""
        return {
            "stage": Stage(int(self.stage[i])).label,
            "chain": int(self.chain[i]),
            "found_step": int(self.found_step[i]),
            "found_by": self.found_by(i),
            "model_steps": int(self.work[i]),
            "chains": int(self.chains[i]),
            "budget": int(self.budget.work),
            "single_pass_valid": bool(valid_solutions(self.single.puzzles[i], self.single.answers[i])[0]),
        }

    def found_by(self, i: int) -> str:
        """How puzzle `i`'s answer was found: `found by symmetric copy 3 at step 5`, and the like."""
        stage, chain, step = Stage(int(self.stage[i])), int(self.chain[i]), int(self.found_step[i])
        if stage is Stage.MODEL:
            return f"found by the model alone at step {step}"
        if stage is Stage.STEPS:
            return f"found by more steps of its own chain, at step {step}"
        if stage is Stage.COPIES:
            return f"found by symmetric copy {chain} at step {step}"
        if stage is Stage.RESTARTS:
            return f"found by random restart {chain - self.budget.copies} at step {step}"
        return "no valid answer within the budget: the model's own answer is shown"


class _Chains:
    """The rows of the model's batch: one per running chain, with what it needs to map its answer back."""

    def __init__(self, device: torch.device):
        self.device = device
        self.puzzle = np.zeros(0, np.int64)
        self.chain = np.zeros(0, np.int64)
        self.stage = np.zeros(0, np.int64)
        self.step = np.zeros(0, np.int64)
        self.limit = np.zeros(0, np.int64)
        self.stop_at = np.zeros(0, np.int64)  # own chain in stage `model`: its horizon; else 0
        self.undo = augment.identity(0)  # numpy maps back to the puzzle's orientation
        self.grids = torch.zeros((0, CELLS), dtype=torch.long, device=device)  # as the model sees them
        self.carry: Carry | None = None

    def __len__(self) -> int:
        return len(self.puzzle)

    def add(
        self,
        puzzle: np.ndarray,
        chain: np.ndarray,
        stage: np.ndarray,
        limit: np.ndarray,
        stop_at: np.ndarray,
        grids: torch.Tensor,
        symmetries: augment.Symmetries,
        carry: Carry,
    ) -> None:
        """Start chains: per row its puzzle, chain number, stage, last step, own stop (0: none), the grid as
        the model sees it, the symmetry that made it, and its start state."""
        self.puzzle = np.concatenate([self.puzzle, puzzle])
        self.chain = np.concatenate([self.chain, chain])
        self.stage = np.concatenate([self.stage, stage])
        self.step = np.concatenate([self.step, np.zeros(len(puzzle), np.int64)])
        self.limit = np.concatenate([self.limit, limit])
        self.stop_at = np.concatenate([self.stop_at, stop_at])
        undo = augment.inverse(symmetries)
        self.undo = augment.Symmetries(
            np.concatenate([self.undo.cells, undo.cells]), np.concatenate([self.undo.digits, undo.digits])
        )
        self.grids = torch.cat([self.grids, grids])
        self.carry = carry if self.carry is None else Carry(*(torch.cat(p) for p in zip(self.carry, carry)))

    def keep(self, rows: np.ndarray) -> None:
        self.puzzle, self.chain, self.stage = self.puzzle[rows], self.chain[rows], self.stage[rows]
        self.step, self.limit, self.stop_at = self.step[rows], self.limit[rows], self.stop_at[rows]
        self.undo = augment.Symmetries(self.undo.cells[rows], self.undo.digits[rows])
        index = torch.from_numpy(rows).to(self.device)
        self.grids = self.grids[index]
        self.carry = Carry(self.carry.y[index], self.carry.z[index])


@torch.no_grad()
def adaptive_steps(
    model: TRM,
    puzzles: np.ndarray | str | list[str],
    budget: Budget,
    config: InferenceConfig = InferenceConfig(),
    seed: int = 0,
) -> Generator[ChainStep, None, AdaptiveSolutions]:
    """Solve (N, 81) puzzles adaptively (see the module doc), yielding every batch step; returns the result."""
    if config.steps is not None:
        raise ValueError("adaptive solving stops each puzzle by itself: a fixed step count does not apply")
    grids = as_grids(puzzles)
    count = len(grids)
    device = next(model.parameters()).device
    horizon = config.step_limit(model)
    budget = budget.resolve(horizon)
    rng = np.random.default_rng(seed)
    noise = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    busy = 0.0

    # Per puzzle: what was found, what it cost, and the model's own run.
    answers = grids.copy()
    confidence = (grids > 0).astype(np.float32)
    stage = np.full(count, Stage.UNSOLVED, np.int64)
    chain_found = np.full(count, -1, np.int64)
    found_step = np.zeros(count, np.int64)
    found_halted = np.zeros(count, bool)
    work = np.zeros(count, np.int64)
    chains_started = np.zeros(count, np.int64)
    done = np.zeros(count, bool)
    single_answers, single_confidence = grids.copy(), confidence.copy()
    single_steps = np.zeros(count, np.int64)
    single_halted = np.zeros(count, bool)
    single_halt = np.full((count, horizon), np.nan, np.float32)
    next_stage = np.full(count, Stage.COPIES, np.int64)  # after the own chain ends

    rows = _Chains(device)
    waiting: deque[int] = deque()  # puzzles whose chains all ended, to escalate
    unseen = 0  # the next puzzle not yet taken in

    def start_own(puzzles_in: np.ndarray) -> None:
        k = len(puzzles_in)
        limit = np.full(k, budget.steps, np.int64)
        own = torch.from_numpy(grids[puzzles_in].astype(np.int64)).to(device)
        rows.add(
            puzzles_in,
            np.zeros(k, np.int64),
            np.full(k, Stage.MODEL, np.int64),
            limit,
            np.full(k, horizon, np.int64),
            own,
            augment.identity(k),
            model.initial_carry(k, device),
        )
        chains_started[puzzles_in] += 1

    def plan(puzzle: int) -> tuple[Stage, int, int] | None:
        """The next stage for a puzzle whose chains all ended: (stage, chains, steps each), or None."""
        left = budget.work - int(work[puzzle])
        for candidate in (Stage.COPIES, Stage.RESTARTS):
            if candidate < next_stage[puzzle]:
                continue
            wanted = budget.copies if candidate is Stage.COPIES else budget.restarts
            if wanted and left > 0:
                chains = min(wanted, max(1, left // budget.copy_steps))
                return candidate, chains, min(budget.copy_steps, left // chains)
        return None

    def start_stage(puzzle: int, chosen: Stage, k: int, steps: int) -> None:
        first = budget.copies + 1 if chosen is Stage.RESTARTS else 1
        if chosen is Stage.COPIES:
            symmetries = augment.random_symmetries(k, rng)
        else:
            symmetries = augment.identity(k)
        posed = augment.apply(np.repeat(grids[puzzle : puzzle + 1], k, axis=0), symmetries)
        carry = model.initial_carry(k, device)
        if chosen is Stage.RESTARTS:  # a fresh latent drawn as the model's own start was drawn
            carry = Carry(carry.y, random_latent(k, carry.z.shape[1:], noise).to(device, carry.z.dtype))
        rows.add(
            np.full(k, puzzle, np.int64),
            np.arange(first, first + k, dtype=np.int64),
            np.full(k, chosen, np.int64),
            np.full(k, steps, np.int64),
            np.zeros(k, np.int64),
            torch.from_numpy(posed.astype(np.int64)).to(device),
            symmetries,
            carry,
        )
        chains_started[puzzle] += k
        next_stage[puzzle] = chosen + 1

    was_training = model.training
    model.eval()
    try:
        while True:
            # Escalations first (their puzzles are already in flight), then new puzzles while rows are free.
            while waiting:
                puzzle = waiting[0]
                chosen = plan(puzzle)
                if chosen is None:
                    waiting.popleft()
                    done[puzzle] = True
                    continue
                if len(rows) and len(rows) + chosen[1] > config.batch_size:
                    break
                waiting.popleft()
                start_stage(puzzle, *chosen)
            if unseen < count and len(rows) < config.batch_size and not waiting:
                take = np.arange(unseen, min(count, unseen + config.batch_size - len(rows)))
                start_own(take)
                unseen += len(take)
            if not len(rows):
                break

            with autocast_for(device, config.bf16):
                carry, logits, halt_logit = model(rows.carry, to_tokens(rows.grids))
            rows.carry = carry
            rows.step += 1
            np.add.at(work, rows.puzzle, 1)
            probability, digit = best_digits(logits, model.config.readout)
            given = rows.grids > 0
            seen = torch.where(given, rows.grids, digit).to(torch.uint8).cpu().numpy()
            sure = torch.where(given, 1.0, probability.float()).cpu().numpy()
            halts = says_halt(halt_logit).cpu().numpy()
            halt_p = torch.sigmoid(halt_logit).float().cpu().numpy()
            mapped = augment.apply(seen, rows.undo)
            sure = np.take_along_axis(sure, rows.undo.cells.astype(np.intp), axis=1)
            valid = valid_solutions(grids[rows.puzzle], mapped)

            # The model's own run: its stop (halt or horizon) is the single-pass answer.
            own = rows.stage == Stage.MODEL
            single_halt[rows.puzzle[own], rows.step[own] - 1] = halt_p[own]
            own_stop = own & (halts | (rows.step >= rows.stop_at))
            for r in np.flatnonzero(own_stop):
                p = rows.puzzle[r]
                single_answers[p], single_confidence[p] = mapped[r], sure[r]
                single_steps[p], single_halted[p] = rows.step[r], halts[r]

            # The first valid answer of a puzzle ends its work (of two at once, the lower chain's). During
            # the model's own run the chain goes on to its own stop, so that the single-pass answer
            # stays the model's; the valid answer is kept meanwhile.
            hits = np.flatnonzero(valid & (stage[rows.puzzle] == Stage.UNSOLVED))
            if len(hits):
                hits = hits[np.lexsort((rows.chain[hits], rows.puzzle[hits]))]
                first = hits[np.unique(rows.puzzle[hits], return_index=True)[1]]
                p = rows.puzzle[first]
                stage[p], chain_found[p], found_step[p] = rows.stage[first], rows.chain[first], rows.step[first]
                answers[p], confidence[p], found_halted[p] = mapped[first], sure[first], halts[first]
            solved_now = []
            ending = (stage[rows.puzzle] != Stage.UNSOLVED) & ~(own & ~own_stop)
            for p in np.unique(rows.puzzle[ending]):
                if not done[p]:
                    done[p] = True
                    solved_now.append(p)

            event = ChainStep(
                rows.puzzle.copy(),
                rows.chain.copy(),
                rows.stage.copy(),
                rows.step.copy(),
                rows.limit.copy(),
                mapped,
                sure,
                halt_p,
                valid,
                np.array(sorted(solved_now), np.int64),
                int(done.sum()),
                horizon,
            )

            # Which rows go on: not those of a finished puzzle, nor a chain at its last step (the limits
            # were planned within the budget: `plan`).
            rows.stage[own_stop] = Stage.STEPS
            alive = ~done[rows.puzzle] & (rows.step < rows.limit)
            ended = np.unique(rows.puzzle[~alive])
            rows.keep(np.flatnonzero(alive))
            still_running = set(rows.puzzle.tolist())
            for p in ended:
                if not done[p] and p not in still_running and p not in waiting:
                    waiting.append(int(p))

            busy += time.perf_counter() - started
            yield event
            started = time.perf_counter()
    finally:
        model.train(was_training)
    seconds = busy + time.perf_counter() - started

    unsolved = stage == Stage.UNSOLVED
    answers[unsolved], confidence[unsolved] = single_answers[unsolved], single_confidence[unsolved]
    found_halted[unsolved] = single_halted[unsolved]
    single = Solutions(
        grids, single_answers, single_confidence, single_steps, single_halted, single_halt, seconds, step_limit=horizon
    )
    final = replace(single, answers=answers, confidence=confidence, steps=work.copy(), halted=found_halted)
    final.step_limit = budget.work
    return AdaptiveSolutions(final, single, stage, chain_found, found_step, work, chains_started, budget, seconds)


def random_latent(count: int, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """`count` start states of `shape` (positions, hidden), each one vector repeated over the positions and
    drawn from the truncated normal the model's own start was drawn from (on the CPU)."""
    vectors = torch.nn.init.trunc_normal_(torch.empty(count, 1, shape[-1]), 0.0, 1.0, -2.0, 2.0, generator=generator)
    return vectors.expand(count, *shape).clone()


def solve_adaptive(
    model: TRM,
    puzzles: np.ndarray | str | list[str],
    budget: Budget | str = "default",
    config: InferenceConfig = InferenceConfig(),
    seed: int = 0,
    on_step: Callable[[ChainStep], None] | None = None,
) -> AdaptiveSolutions:
    """Solve puzzles adaptively (see the module doc). `budget`: a Budget or a preset name (fast, default,
    thorough); `on_step` sees every batch step."""
    if isinstance(budget, str):
        budget = preset(budget, config.step_limit(model))
    return finish(adaptive_steps(model, puzzles, budget, config, seed), on_step)
