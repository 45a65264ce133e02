"""The CGAR trainer: deep supervision with learned halting, a depth curriculum and step weighting.

Read `Trainer.train_step` (one optimiser step) and `Trainer.run` (the loop around it); the setup
functions above them each do one job.

The batch is a fixed set of B slots (training/slots.py), each holding one puzzle in flight with its
carried state (y, z). An optimiser step runs ONE supervision step for every slot: slots whose puzzle
halted at the last step take fresh puzzles, the model runs, the weights and the EMA update, and the
halting rule marks the slots that are done. The refill keeps rows of a freshly drawn full batch with
`torch.where`, so the GPU always works on a full batch and deciding who leaves needs no host-device
sync; the host syncs once per log line (training/metrics.py).

Where the run stands is its progress, 0 to 1 (training/schedule.py): step / steps, or under a time
budget elapsed time / the time left for training, so PDC's depth and the learning-rate schedule always
complete inside the budget. A run may start from an exported model (`init_from`).

Data parallel under `torchrun`: every rank trains its own slots on its share of the batch and DDP
averages the gradients (see `model_call`). Checkpoints gather every rank's stream, slots and RNG to
rank 0, so a resumed run continues bit-for-bit (a run by steps: time is not repeatable); one written
on a GPU resumes on a CPU too, its random generators reseeded from their saved states (training/rng.py).
"""

from __future__ import annotations

import copy
import dataclasses
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from sudoku_trm.errors import Interrupted, UserError
from sudoku_trm.inference.scores import evaluate
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.deepen import new_blocks
from sudoku_trm.model.devices import autocast_for, resolve_device
from sudoku_trm.model.trm import TRM, Carry
from sudoku_trm.model.weights import export_weights, load_weights
from sudoku_trm.model.widen import widened_state
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_sets
from sudoku_trm.training import distributed
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from sudoku_trm.training.config import FRONTIER_REVEALS, TrainConfig
from sudoku_trm.training.curriculum import CurriculumPlan, DepthSchedule
from sudoku_trm.training.frontier import FrontierStream
from sudoku_trm.training.losses import supervision_loss
from sudoku_trm.training.metrics import METRICS_NAME, RunningMetrics, Throughput, append_record, eval_line, step_line
from sudoku_trm.training.optim import Optimizer, training_optimizer
from sudoku_trm.training.rng import cuda_generator, reseeded_line, restore_generator
from sudoku_trm.training.schedule import Clock, TimeBudget, lr_factor
from sudoku_trm.training.slots import Slots
from sudoku_trm.training.stream import TrainingStream, paper_protocol_set
from sudoku_trm.training.targets import cell_weights, reached, rounds_of

ModelCall = Callable[[Carry, Tensor, int, int], tuple[Carry, Tensor, Tensor]]


# -- setup, one job each ---------------------------------------------------------------------------


def join_processes(config: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device): joins the process group under torchrun; TF32 matmuls on CUDA."""
    rank, world = distributed.setup()
    device = resolve_device(config.device)
    if config.batch_size % world:
        raise UserError(f"--batch-size {config.batch_size} does not split over {world} processes")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return rank, world, device


def curriculum_plan(config: TrainConfig, model_config: ModelConfig) -> CurriculumPlan:
    """Depth (PDC) and loss weights (HSW) per step; the last depth must be the model's full one."""
    plan = CurriculumPlan(
        config.curriculum,
        DepthSchedule(config.pdc_boundaries, config.pdc_depths),
        config.hsw_decay,
        model_config.halt_max_steps,
        config.hsw_variant,
    )
    if plan.eval_depth != (model_config.H_cycles, model_config.L_cycles):
        raise UserError("the curriculum's last depth must equal the model's full depth (H_cycles, L_cycles)")
    return plan


def load_data(config: TrainConfig, log: Callable[[str], None] | None = None) -> tuple[PuzzleSet, PuzzleSet | None]:
    """The training set (with --subsample, the paper's fixed augmented set) and the dev set, if any;
    `log` hears of generated puzzles being made (the first run only: they are cached)."""
    train = load_puzzle_sets(list(config.data), announce=log)
    if config.subsample:
        train = paper_protocol_set(train, config.subsample, config.augment_copies, config.seed)
    if not config.dev:
        return train, None
    dev = load_puzzle_sets([config.dev], announce=log)
    return train, dev.subset(slice(0, config.dev_limit)) if config.dev_limit else dev


def training_stream(
    config: TrainConfig, puzzles: PuzzleSet, batch: int, device: torch.device, rank: int
) -> TrainingStream | FrontierStream:
    """This rank's stream: every puzzle alike (`fixed`), or drawn where the model half-solves (`frontier`)."""
    seed = config.seed + 1000 * rank
    if config.mix == "frontier":
        return FrontierStream(puzzles, batch, device, seed=seed, reveals=config.reveals)
    return TrainingStream(puzzles, batch, device, seed=seed, easier_share=config.easier_share)


def build_model(
    model_config: ModelConfig, config: TrainConfig, device: torch.device, log: Callable[[str], None] = print
) -> tuple[TRM, TRM, Optimizer]:
    """The model, its EMA copy and the optimiser; every rank seeds alike, so all start from one init.
    With `init_from` (and not resuming), model and EMA both start from the exported weights."""
    torch.manual_seed(config.seed)
    model = TRM(model_config).to(device)
    if config.init_from and not config.resume:
        model.load_state_dict(exported_state(Path(config.init_from), model, log))
    ema = copy.deepcopy(model).requires_grad_(False)
    return model, ema, training_optimizer(model, config)


# How the same weights are run, not what they are: a run may start from an export trained with other values
# (deeper recursion, a longer step limit), which it says; any other field of the config must match.
RUN_SETTINGS = ("H_cycles", "L_cycles", "halt_max_steps", "halt_exploration_prob")
# What a run may add to an export trained without it (0 there): new tensors whose output starts at zero, so
# the grown model computes what the export did until training moves them.
GROWN_SETTINGS = ("pair_width",)
# What a run may make larger than the export's: model/widen.py and model/deepen.py map the export onto it,
# the same function.
ENLARGED_SETTINGS = {"hidden_size": "widens", "num_layers": "deepens"}


def exported_state(directory: Path, model: TRM, log: Callable[[str], None] = print) -> dict[str, Tensor]:
    """The weights of an exported model (its EMA) for `model`, refused unless it was built from the same config
    (RUN_SETTINGS may differ, GROWN_SETTINGS be added and ENLARGED_SETTINGS grow: each one is logged). Added
    tensors keep `model`'s own initial values."""
    exported = load_weights(directory)
    model_config = model.config
    enlarged = {f for f in ENLARGED_SETTINGS if getattr(exported.config, f) < getattr(model_config, f)}
    adopted = {f: getattr(model_config, f) for f in RUN_SETTINGS}
    adopted |= {f: getattr(model_config, f) for f in enlarged}
    adopted |= {f: getattr(model_config, f) for f in GROWN_SETTINGS if not getattr(exported.config, f)}
    as_run = dataclasses.replace(exported.config, **adopted)
    if as_run != model_config:
        field = first_difference(as_run, model_config)
        raise UserError(
            f"{directory}: the exported model has {field} {getattr(exported.config, field)!r}, "
            f"this run trains {field} {getattr(model_config, field)!r}"
        )
    try:  # enlarged before any grown tensors are added, so those take the run's own initial values
        state = widened_state(exported, model) if "hidden_size" in enlarged else exported.state_dict()
        if "num_layers" in enlarged:
            state |= new_blocks(model, exported.config.num_layers)
    except ValueError as problem:
        raise UserError(f"{directory}: {problem}") from None
    for field in adopted:
        before, now = getattr(exported.config, field), getattr(model_config, field)
        if before == now:
            continue
        if field in RUN_SETTINGS:
            log(f"{directory}: trained with {field} {before!r}, this run trains {field} {now!r} (same weights)")
        elif field in ENLARGED_SETTINGS:
            verb = ENLARGED_SETTINGS[field]
            log(f"{directory}: trained with {field} {before!r}, this run {verb} it to {now!r} (the same function)")
        else:
            added = {name: value for name, value in model.state_dict().items() if name not in state}
            state |= added
            log(
                f"{directory}: trained with {field} {before!r}, this run grows it to {now!r} "
                f"({len(added)} new tensors, starting silent: the same function at step 0)"
            )
    return state


def first_difference(a: ModelConfig, b: ModelConfig) -> str:
    return next(f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name))


def model_call(model: TRM, config: TrainConfig, world: int, device: torch.device) -> ModelCall:
    """What the loop calls to run `model`. Under torchrun it is wrapped in DDP, which would broadcast
    rank 0's weights (equal already) and all-reduces the gradients during backward, so every rank then
    clips and steps the same averaged gradient. Everything else (optimiser, EMA, checkpoints, export)
    uses `model` itself, whose parameters the wrapper shares.

    --compile compiles the shared network `model.L_level` in place, not the whole model: its three
    graphs (no-grad passes, the first and the later updates with gradients) serve every depth, where a
    compiled model unrolls the H/L loops and compiles again at each PDC depth change. The module and
    its state_dict keys stay as they are, so the EMA copy, checkpoints and export are unaffected."""
    if config.compile:
        model.L_level.compile()
    if world > 1:
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return model


@contextmanager
def _termination_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a scheduler, a session's end) stops training as Ctrl-C does: checkpoint, then
    Interrupted. A job started in the background of a script ignores SIGINT, so `kill` is how it is stopped."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live on the main thread
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@torch.no_grad()
def update_ema(ema: TRM, model: TRM, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)


class Trainer:
    """`model` is the TRM being trained and `forward` what calls it (DDP, compile); `ema` its moving
    average, which is evaluated and exported; `slots` the puzzles in flight; `step` the steps done;
    `clock` the run's seconds (carried over a resume) and `budget` its time budget, if any."""

    def __init__(
        self,
        model_config: ModelConfig,
        config: TrainConfig,
        log: Callable[[str], None] = print,
        on_step: Callable[[int, float, dict | None], None] | None = None,
        started: float | None = None,
        on_activity: Callable[[str], None] | None = None,
    ):
        """`log` receives text lines (rank 0 only); `on_step(step, progress, latest record or None)` drives
        a progress bar; `started` is the `time.perf_counter()` reading the run's clock starts from
        (default: now; the CLI passes its command's start, so that importing torch counts too);
        `on_activity(text)` hears what the trainer turns to: "training", "evaluating ...", "saving ..."."""
        self.model_config, self.config, self.log, self.on_step = model_config, config, log, on_step
        self.on_activity = on_activity
        self.rank, self.world, self.device = join_processes(config)
        self.clock = Clock(self.device, started)  # setup counts against a time budget too
        self.budget = TimeBudget(config.time_budget, self.clock) if config.time_budget else None
        self.local_batch = config.batch_size // self.world
        self.run_dir = Path(config.runs_dir) / config.name
        self.train_set, self.dev_set = load_data(config, log if self.rank == 0 else None)
        self.plan = curriculum_plan(config, model_config)
        rank0_log = log if self.rank == 0 else lambda line: None
        self.model, self.ema, self.optimizer = build_model(model_config, config, self.device, rank0_log)
        self.forward = model_call(self.model, config, self.world, self.device)
        torch.manual_seed(config.seed + self.rank)  # ranks explore halting differently
        self.stream = training_stream(config, self.train_set, self.local_batch, self.device, self.rank)
        self.slots = Slots.empty(self.model, self.local_batch, self.device)
        self.cpu_bf16 = config.cpu_bf16  # bf16 autocast on the CPU too (benchmarks also set it directly)
        self.gradient_checks = {"the first step", "the first step at depth H >= 2"}  # still to make
        self.step = 0  # optimiser steps done
        self.step_settings = (0.0, self.plan.depth_at(0.0), 0.0)  # the last step's progress, depth, lr factor
        self.decided: float | None = None  # under a time budget: the next step's progress, as `run` decided it
        self.trained_before = 0.0  # seconds on the run's clock before this process (a resumed run's)
        if config.resume:
            self.resume()

    # -- schedules -------------------------------------------------------------------------------

    def progress(self) -> float:
        """Where the next step stands, 0..1: step / steps, or under a time budget elapsed time / the time
        for training. The last step of a run by steps runs at 1, so every schedule ends on its last value
        (a time budget does the same for the step it foresees as the last: see `TimeBudget`)."""
        if self.budget is not None:
            return self.budget.progress() if self.decided is None else self.decided
        return 1.0 if self.step >= self.config.steps - 1 else self.step / self.config.steps

    def next_progress(self) -> float | None:
        """The progress the next step of `run` runs at, or None when the run is done; rank 0 decides
        for all, since ranks that disagreed on the learning rate or depth would drift apart."""
        if self.budget is None:
            return None if self.step >= self.config.steps else self.progress()
        decided = self.budget.next_progress() if self.rank == 0 else None
        shared = distributed.broadcast_float(-1.0 if decided is None else decided, self.rank, self.world, self.device)
        return None if shared < 0 else shared

    def depth(self, step: int) -> tuple[int, int]:
        """The depth at `step` of a run by steps."""
        return self.plan.depth_at(step / self.config.steps)

    def ema_decay(self, step: int) -> float:
        """The configured decay, ramped in as (1 + t) / (10 + t): without the ramp a 0.999 EMA is still
        mostly the random initialisation after a few hundred steps, which spoils short runs' evaluation
        and export; long runs reach the full decay after ~9k steps and are unaffected after that."""
        return min(self.config.ema_decay, (1 + step) / (10 + step))

    # -- one optimiser step, and the loop --------------------------------------------------------

    def train_step(self, metrics: RunningMetrics) -> None:
        """One optimiser step, at `self.progress()`: one supervision step for every slot."""
        slots, config = self.slots, self.config
        # 1. Slots whose puzzle halted at the end of the last step take fresh puzzles.
        inputs, labels, *buckets = self.stream.next_batch()  # the frontier's also says each row's bucket
        unknown_mode = config.pending == "unknown"
        rounds = rounds_of(inputs, never_reached=unknown_mode) if config.targets == "logic" else None
        slots.refill((inputs, labels), self.model, rounds, *buckets)
        # 2. This step's depth (PDC) and learning rates (warm-up, schedule), from the run's progress.
        progress = self.progress()
        h_cycles, l_cycles = self.plan.depth_at(progress)
        factor = lr_factor(config.lr_schedule, progress, self.step, config.warmup_steps, config.lr_floor)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        self.step_settings = (progress, (h_cycles, l_cycles), factor)
        # 3. One supervision step; each slot's loss weighs by its own step (HSW); update, then the EMA.
        with autocast_for(self.device, config.bf16, cpu=self.cpu_bf16):
            slots.carry, logits, halt_logit = self.forward(slots.carry, slots.inputs, h_cycles, l_cycles)
        weights = self.plan.weights(slots.steps)
        per_cell = unknown = None
        if slots.rounds is not None:
            per_cell = cell_weights(slots.rounds, slots.steps, config.rounds_per_step, config.pending_weight)
            if unknown_mode:
                unknown = ~reached(slots.rounds, slots.steps, config.rounds_per_step)
        loss = supervision_loss(
            logits,
            halt_logit,
            slots.labels,
            weights,
            config.halt_loss_weight,
            config.loss,
            config.label_smoothing,
            per_cell,
            unknown,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        if self.gradient_checks:
            self.check_gradients(h_cycles, l_cycles)
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        update_ema(self.ema, self.model, self.ema_decay(self.step))
        self.step += 1
        # 4. Which slots are done: they take fresh puzzles at step 1 of the next call.
        halt_logit = halt_logit.detach()
        slots.halt_after(halt_logit, self.model_config.halt_max_steps, self.model_config.halt_exploration_prob)
        if isinstance(self.stream, FrontierStream) and slots.buckets is not None:
            self.stream.report(slots.buckets, slots.halted, loss.grid_correct)
        # 5. Metrics, summed on the device.
        metrics.add(loss, halt_logit, slots)

    def check_gradients(self, h_cycles: int, l_cycles: int) -> None:
        """At this process's first step, and its first with no-grad passes (H >= 2), every trainable
        parameter must have a gradient: the optimisers skip a parameter whose .grad is None, so one cut
        off from the loss (a detach, a weight cast cached inside a no-grad pass) would silently stop
        training. A UserError naming them otherwise, before the step updates anything."""
        due = {"the first step"} | ({"the first step at depth H >= 2"} if h_cycles >= 2 else set())
        if not due & self.gradient_checks:
            return
        self.gradient_checks -= due
        missing = [name for name, p in self.model.named_parameters() if p.requires_grad and p.grad is None]
        if missing:
            raise UserError(
                f"step {self.step + 1} at depth ({h_cycles}, {l_cycles}): no gradient reached "
                f"{len(missing)} trainable parameter(s), which would silently stop training: {', '.join(missing)}"
            )

    def run(self, until: int | None = None) -> dict:
        """Train to `config.steps` or to the end of the time budget (or stop at step `until`), logging,
        evaluating and checkpointing on schedule. Returns the last logged record, with the final dev
        evaluation under "eval" when training is done."""
        with _termination_as_interrupt():
            return self._run(until)

    def _run(self, until: int | None) -> dict:
        config = self.config
        metrics, speed, summary = RunningMetrics(self.device), Throughput(self.step, config.batch_size), {}
        finished = False
        try:
            if self.budget is not None:
                self.time_final_work()
                speed.restart(self.step)
            self.doing("training")
            while until is None or self.step < until:
                progress = self.decided = self.next_progress()
                if progress is None:  # the budget ran out before a step could run as the last (a stall)
                    finished = True
                    if metrics.updates:  # the steps since the last log line are still logged
                        summary = self.log_step(metrics.flush(), speed.samples_per_s(self.step))
                    break
                started = self.clock.elapsed()
                self.train_step(metrics)  # steps 1-5, at `progress`
                self.clock.step_done()
                self.decided = None
                if self.budget is not None:
                    self.budget.step_seconds = self.clock.elapsed() - started
                # 6. Log, evaluate and checkpoint on schedule; samples/s counts training alone. The last
                # step runs at progress 1 (see `progress`); what follows it is the final save and eval.
                last = progress == 1.0 or self.step == until
                finished = progress == 1.0
                record = None
                if self._every(config.log_every) or last:
                    values = metrics.flush()  # waits for the device, so the clock reads after it
                    summary = record = self.log_step(values, speed.samples_per_s(self.step))
                    speed.restart(self.step)
                if self.on_step and self.rank == 0:
                    self.on_step(self.step, progress, record)
                if last:
                    break
                if self._every(config.eval_every) and self.dev_set is not None:
                    self.periodic_evaluation()
                    speed.restart(self.step)
                if self._every(config.checkpoint_every):
                    self.save()
                    self.doing("training")
                    speed.restart(self.step)
        except KeyboardInterrupt:
            self.save()
            raise Interrupted(
                f"interrupted at step {self.step}; checkpoint saved to {self.run_dir / CHECKPOINT_NAME}, "
                "continue with --resume"
            ) from None
        self.save()
        if finished:
            summary["eval"] = self.evaluate_dev(None if self.budget is None else self.budget.final_eval_seconds())
        self.doing("done")
        return summary

    def time_final_work(self) -> None:
        """Under a time budget, before the first step: the starting point's dev evaluation (cut to its
        share of the budget) and one checkpoint, timed, plan the work kept back for after the last step
        (see `TimeBudget`). A budget that setup has already spent trains no step; the run still saves."""
        budget = self.budget
        assert budget is not None
        started = self.clock.elapsed()
        first = self.evaluate_dev(budget.first_eval_seconds())
        evaluated = self.clock.elapsed()
        self.save()
        saved = self.clock.elapsed()
        whole = self.dev_set is None or (first is not None and first["puzzles"] == len(self.dev_set))
        budget.set_reserve((evaluated - started) if whole else None, saved - evaluated)
        training = budget.horizon - saved
        if self.rank == 0:
            before = f"{self.trained_before:.0f} s spent before this resume, " if self.trained_before else ""
            self.log(
                f"time budget {budget.seconds / 60:g} min: {before}{saved - self.trained_before:.1f} s spent on "
                f"setup, the first evaluation and checkpoint; {max(training, 0.0):.0f} s for training; "
                f"{budget.reserve:.1f} s kept for the final evaluation, checkpoint and export"
            )
            if training <= 0:
                self.log("note: the time budget is spent before training could start: no step runs")

    def _every(self, interval: int) -> bool:
        return bool(interval) and self.step % interval == 0

    # -- logging and evaluation ------------------------------------------------------------------

    def log_step(self, values: dict[str, float], samples_per_s: float) -> dict:
        """The figures since the last log line as a metrics.jsonl record and a log line (rank 0); the
        progress, depth and learning rates are the last step's."""
        progress, depth, factor = self.step_settings
        record = {
            "step": self.step,
            "progress": progress,
            "elapsed_s": self.clock.elapsed(),
            "depth": list(depth),
            "lr": self.config.lr * factor,
            **({"muon_lr": self.config.muon_lr * factor} if self.config.optimizer == "muon" else {}),
            "samples_per_s": samples_per_s,
            **values,
            **(self.stream.summary() if isinstance(self.stream, FrontierStream) else {}),
        }
        if self.rank == 0:
            append_record(self.run_dir / METRICS_NAME, record)
            self.log(step_line(record, None if self.budget else self.config.steps))
        return record

    def evaluate_dev(self, seconds: float | None = None) -> dict | None:
        """The EMA's dev figures (rank 0), each puzzle read at its own halting step. With `seconds`, only
        the first dev puzzles that fit in that time (said in the log line and the record's `dev_puzzles`);
        None when not one did (logged)."""
        if self.dev_set is None or self.rank != 0:
            return None
        total = len(self.dev_set)
        limit = "" if seconds is None else f", at most {seconds:.1f} s"
        self.doing(f"evaluating the EMA on {total} dev puzzles{limit}")
        if seconds is None:
            scores = evaluate(self.ema, self.dev_set, batch_size=self.config.eval_batch_size)
        else:
            scores = evaluate(
                self.ema, self.dev_set, batch_size=self.config.eval_batch_size, seconds=seconds, now=self.clock.elapsed
            )
        if scores is None:
            self.log(f"eval step {self.step}: skipped, no dev puzzle fits in the {seconds:.1f} s the budget leaves")
            return None
        result = scores.to_dict()
        record = {"step": self.step, "eval": result}
        line = eval_line(self.step, result)
        if scores.puzzles < total:
            record["dev_puzzles"] = total
            line += f"  (first {scores.puzzles} of {total} dev puzzles: cut to fit the time budget)"
        append_record(self.run_dir / METRICS_NAME, record)
        self.log(line)
        return result

    def periodic_evaluation(self) -> None:
        """An evaluation every `eval_every` steps; under a time budget, cut to its share (TimeBudget)."""
        if self.budget is None:
            self.evaluate_dev()
        else:
            started = self.clock.elapsed()
            self.evaluate_dev(self.budget.periodic_eval_seconds())
            self.budget.periodic_spent += self.clock.elapsed() - started
        self.doing("training")

    def doing(self, activity: str) -> None:
        """Tell `on_activity` what the trainer turns to (rank 0)."""
        if self.on_activity is not None and self.rank == 0:
            self.on_activity(activity)

    # -- checkpoints and export ------------------------------------------------------------------

    def save(self) -> None:
        """Write the checkpoint atomically (rank 0); every rank must call it, to hand over its own state."""
        self.doing(f"saving the checkpoint (step {self.step})")
        ranks = distributed.gather_to_rank0(self._rank_state(), self.rank, self.world)
        if self.rank == 0:
            save_checkpoint(
                self.run_dir / CHECKPOINT_NAME,
                {
                    "model": self.model.state_dict(),
                    "ema": self.ema.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "step": self.step,
                    "elapsed_seconds": self.clock.elapsed(),
                    "model_config": self.model_config.to_dict(),
                    "train_config": self.config.to_dict(),
                    "ranks": ranks,
                },
            )

    def resume(self) -> None:
        """Continue from the run's checkpoint: weights, EMA, optimiser, step, the clock and, on as many
        processes as wrote it, each rank's stream, slots and RNG."""
        path = self.run_dir / CHECKPOINT_NAME
        state = load_checkpoint(path)
        try:  # through from_dict, so a checkpoint written before a field existed gets its default
            same_model = ModelConfig.from_dict(state["model_config"]) == self.model_config
        except (ValueError, TypeError):
            same_model = False
        if not same_model:
            raise UserError(f"{path}: the checkpoint's model config differs from this run's")
        optimizer = state["train_config"].get("optimizer")
        if optimizer != self.config.optimizer:
            raise UserError(
                f"{path}: the checkpoint was trained with optimizer {optimizer}, this run uses {self.config.optimizer}"
            )
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        # torch restores each group's saved settings; the base learning rates stay this run's, as the
        # rates did before groups carried them (and checkpoints written before then have none).
        base_lrs = [group["base_lr"] for group in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for group, base_lr in zip(self.optimizer.param_groups, base_lrs):
            group["base_lr"] = base_lr
        self.step, ranks = state["step"], state["ranks"]
        self.trained_before = state.get("elapsed_seconds", 0.0)
        self.clock.add(self.trained_before)
        saved_mix = state["train_config"].get("mix", "fixed")  # checkpoints before the frontier mix: fixed
        saved_data = list(state["train_config"].get("data", self.config.data))
        saved_reveals = list(state["train_config"].get("reveals", FRONTIER_REVEALS))
        if saved_mix != self.config.mix:
            # A run may change its mix midway (an A/B forked from one checkpoint): the saved stream and
            # slots belong to the other kind of stream, so both start fresh here.
            self.log(f"resuming with mix {self.config.mix} from a checkpoint of mix {saved_mix}: data order restarts")
        elif self.config.mix == "frontier" and saved_reveals != list(self.config.reveals):
            # ... or its frontier's buckets: the saved solve rates count other reveals.
            self.log(f"resuming with other reveals than the checkpoint's ({saved_reveals}): the frontier restarts")
        elif saved_data != list(self.config.data):
            # ... or its data: the saved order indexes the other puzzle set.
            self.log(f"resuming on other data than the checkpoint's ({', '.join(saved_data)}): data order restarts")
        elif len(ranks) == self.world:
            self._load_rank_state(ranks[self.rank])
        else:
            self.log(f"resuming on {self.world} processes from a checkpoint of {len(ranks)}: data order restarts")
        self.log(f"resumed from step {self.step}")

    def _rank_state(self) -> dict:
        """What differs between ranks: the data stream, the slots and the RNG (halting exploration)."""
        state = {
            "stream": self.stream.state_dict(),
            "slots": self.slots.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "device": self.device.type,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _load_rank_state(self, state: dict) -> None:
        """This rank's stream, slots and RNG. Generator states from another device type (a checkpoint
        written on a GPU, resumed on a CPU, or the reverse) are reseeded from, not loaded: one log line."""
        reseeded = self.stream.load_state_dict(state["stream"])
        self.slots = Slots.from_state(state["slots"], self.device)
        if not restore_generator(torch.default_generator, state["torch_rng"], "cpu"):
            reseeded.append("the CPU RNG")
        if self.device.type == "cuda":
            # Halting exploration draws on the device. From a CPU checkpoint, seed it from the CPU RNG's state.
            saved = state.get("cuda_rng", state["torch_rng"])
            if not restore_generator(cuda_generator(self.device), saved, "cuda" if "cuda_rng" in state else "cpu"):
                reseeded.append("the CUDA RNG")
        # On the CPU, a CUDA checkpoint's halting draws continue from the CPU RNG, restored exactly above.
        if reseeded:
            saved_on = state.get("device", "cuda" if "cuda_rng" in state else "another device")
            self.log(reseeded_line(reseeded, saved_on, self.device))

    def export(self, directory: Path) -> None:
        """The EMA weights, as `sudoku-trm eval` and the Hub load them (rank 0)."""
        if self.rank == 0:
            # The steps run come after the config, whose `steps` is the limit asked for (a run under a time
            # budget, or stopped early, trains fewer).
            export_weights(self.ema, directory, training={**self.config.to_dict(), "steps_trained": self.step})
