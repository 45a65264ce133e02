"""The CGAR trainer: deep supervision with learned halting, a depth curriculum and step weighting.

Each optimiser step runs ONE supervision step for a fixed set of B slots. A slot holds a puzzle
with its carried state (y, z) and its step count; when its puzzle halts (halting logit > 0, or the
step limit), a fresh augmented puzzle takes the slot at the next step. So the GPU always works on a
full batch, and no host-device synchronisation is needed to decide who leaves (the refill is a
`torch.where` against a freshly drawn batch).

Single process by default; under `torchrun` every rank trains its own slots and DDP averages the
gradients, so the global batch is `batch_size` split across ranks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from sudoku_trm.training import distributed
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.curriculum import CurriculumPlan, DepthSchedule
from sudoku_trm.model.devices import autocast_for, resolve_device
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_sets
from sudoku_trm.training.stream import TrainingStream, paper_protocol_set
from sudoku_trm.errors import Interrupted, UserError
from sudoku_trm.inference.scores import evaluate
from sudoku_trm.model.weights import export_weights
from sudoku_trm.training.losses import supervision_loss
from sudoku_trm.model.trm import TRM, Carry
from sudoku_trm.training.optim import build_optimizer


@dataclass
class Slots:
    """The puzzles in flight: one row per batch slot."""

    carry: Carry
    inputs: torch.Tensor  # (B, 81) int64 tokens
    labels: torch.Tensor  # (B, 81) int64 tokens
    steps: torch.Tensor  # (B,) int64 supervision steps done
    halted: torch.Tensor  # (B,) bool: leaves before the next step

    def state_dict(self) -> dict:
        return {"y": self.carry.y, "z": self.carry.z, "inputs": self.inputs, "labels": self.labels,
                "steps": self.steps, "halted": self.halted}

    @staticmethod
    def from_state(state: dict, device: torch.device) -> "Slots":
        t = {k: v.to(device) for k, v in state.items()}
        return Slots(Carry(t["y"], t["z"]), t["inputs"], t["labels"], t["steps"], t["halted"])


@dataclass
class RunningMetrics:
    """Sums kept on the device between log lines, so logging costs one synchronisation.

    Loss and accuracies cover every slot at every step; halting accuracy and steps cover the
    puzzles that finished (halted) in the interval.
    """

    device: torch.device
    NAMES = ("loss", "cell_accuracy", "grid_accuracy", "finished", "halt_correct", "steps")

    def __post_init__(self):
        self.sums = torch.zeros(len(self.NAMES), dtype=torch.float64, device=self.device)
        self.updates = 0

    def add(self, values: torch.Tensor) -> None:
        self.sums += values.double()
        self.updates += 1

    def flush(self) -> dict[str, float]:
        loss, cells, grids, finished, halting, steps = self.sums.tolist()
        updates, done = max(self.updates, 1), max(finished, 1.0)
        out = {"loss": loss / updates, "cell_accuracy": cells / updates, "grid_accuracy": grids / updates,
               "finished": int(finished), "halting_accuracy": halting / done, "mean_steps": steps / done}
        self.sums.zero_()
        self.updates = 0
        return out


class Trainer:
    def __init__(
        self,
        model_config: ModelConfig,
        config: TrainConfig,
        log: Callable[[str], None] = print,
        on_step: Callable[[int, dict | None], None] | None = None,
    ):
        """`log` receives text lines (rank 0 only); `on_step(step, latest record or None)` drives a progress bar."""
        self.model_config = model_config
        self.config = config
        self.log = log
        self.on_step = on_step
        self.rank, self.world = distributed.setup()
        self.device = resolve_device(config.device)
        if config.batch_size % self.world:
            raise UserError(f"--batch-size {config.batch_size} does not split over {self.world} processes")
        self.local_batch = config.batch_size // self.world
        self.run_dir = Path(config.runs_dir) / config.name
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        self.train_set = self._training_set()
        self.dev_set = self._dev_set()
        self.plan = CurriculumPlan(
            curriculum=config.curriculum,
            schedule=DepthSchedule(config.pdc_boundaries, config.pdc_depths),
            decay=config.hsw_decay,
            max_steps=model_config.halt_max_steps,
            hsw_variant=config.hsw_variant,
        )
        if self.plan.eval_depth != (model_config.H_cycles, model_config.L_cycles):
            raise UserError("the curriculum's last depth must equal the model's full depth (H_cycles, L_cycles)")

        torch.manual_seed(config.seed)  # the same initial weights on every rank
        self.model = TRM(model_config).to(self.device)
        self.ema = TRM(model_config).to(self.device)
        self.ema.requires_grad_(False)
        torch.manual_seed(config.seed + self.rank)  # but each rank explores halting differently
        self.optimizer = build_optimizer(
            config.optimizer, self.model.parameters(), config.lr, config.betas, config.weight_decay
        )
        self.stream = TrainingStream(
            self.train_set, self.local_batch, self.device, seed=config.seed + 1000 * self.rank,
            easier_share=config.easier_share,
        )
        self.step = 0
        self.slots = self._empty_slots()
        self.wrapped = self.model
        if self.world > 1:
            self.wrapped = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self.ema.load_state_dict(self.model.state_dict())  # after DDP has broadcast rank 0's weights
        self.forward = torch.compile(self.wrapped) if config.compile else self.wrapped
        if config.resume:
            self._resume()

    # -- data ------------------------------------------------------------------------------------

    def _training_set(self) -> PuzzleSet:
        train = load_puzzle_sets(list(self.config.data))
        if self.config.subsample:
            train = paper_protocol_set(train, self.config.subsample, self.config.augment_copies, self.config.seed)
        return train

    def _dev_set(self) -> PuzzleSet | None:
        if not self.config.dev:
            return None
        dev = load_puzzle_sets([self.config.dev])
        return dev.subset(slice(0, self.config.dev_limit)) if self.config.dev_limit else dev

    def _empty_slots(self) -> Slots:
        b, cells = self.local_batch, self.model_config.seq_len
        zeros = torch.zeros((b, cells), dtype=torch.long, device=self.device)
        return Slots(
            self.model.initial_carry(b, self.device),
            zeros,
            zeros.clone(),
            torch.zeros(b, dtype=torch.long, device=self.device),
            torch.ones(b, dtype=torch.bool, device=self.device),  # all empty: filled at the first step
        )

    # -- one optimiser step ----------------------------------------------------------------------

    def learning_rate(self, step: int) -> float:
        """Linear warm-up, then constant (the TRM recipe)."""
        warmup = self.config.warmup_steps
        return self.config.lr * min(1.0, (step + 1) / warmup) if warmup else self.config.lr

    def depth(self, step: int) -> tuple[int, int]:
        return self.plan.depth_at(step / self.config.steps)

    def train_step(self, metrics: RunningMetrics) -> None:
        slots, config = self.slots, self.config
        # Halted slots take fresh puzzles (drawn for every slot, kept where needed: no sync).
        new_inputs, new_labels = self.stream.next_batch()
        leave = slots.halted
        slots.inputs = torch.where(leave[:, None], new_inputs, slots.inputs)
        slots.labels = torch.where(leave[:, None], new_labels, slots.labels)
        slots.carry = self.model.reset_carry(slots.carry, leave)
        slots.steps = torch.where(leave, 0, slots.steps) + 1

        h_cycles, l_cycles = self.depth(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.step)
        with autocast_for(self.device, self.config.bf16):
            slots.carry, logits, halt_logit = self.forward(slots.carry, slots.inputs, h_cycles, l_cycles)
        loss = supervision_loss(
            logits, halt_logit, slots.labels, self.plan.weights(slots.steps), config.halt_loss_weight
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        self._update_ema()
        self.step += 1

        with torch.no_grad():
            max_steps = self.model_config.halt_max_steps
            halted = (slots.steps >= max_steps) | (halt_logit > 0)
            # Exploration: sometimes insist on a random minimum number of steps (TRM/HRM recipe).
            explore = torch.rand(halted.shape, device=self.device) < self.model_config.halt_exploration_prob
            minimum = torch.randint(min(2, max_steps), max_steps + 1, halted.shape, device=self.device)
            slots.halted = halted & (slots.steps >= torch.where(explore, minimum, 0))
            done = slots.halted
            metrics.add(torch.stack([
                loss.total.detach(),
                loss.cell_correct.float().mean(),
                loss.grid_correct.float().mean(),
                done.sum(),
                (((halt_logit > 0) == loss.grid_correct) & done).sum(),
                (slots.steps * done).sum(),
            ]).double())

    @torch.no_grad()
    def _update_ema(self) -> None:
        ema_params = list(self.ema.parameters())
        torch._foreach_lerp_(ema_params, list(self.model.parameters()), 1.0 - self.ema_decay(self.step))

    def ema_decay(self, step: int) -> float:
        """The configured decay, ramped in as (1 + t) / (10 + t): without the ramp a 0.999 EMA is still
        mostly the random initialisation after a few hundred steps, which spoils short runs' evaluation
        and export; long runs reach the full decay after ~9k steps and are unaffected after that."""
        return min(self.config.ema_decay, (1 + step) / (10 + step))

    # -- the loop --------------------------------------------------------------------------------

    def run(self, until: int | None = None) -> dict:
        """Train to `config.steps` (or `until`), logging, evaluating and checkpointing on the way."""
        config = self.config
        until = min(until or config.steps, config.steps)
        metrics = RunningMetrics(self.device)
        last_log, last_log_step = time.perf_counter(), self.step
        summary: dict = {}
        try:
            while self.step < until:
                self.train_step(metrics)
                if self.step % config.log_every == 0 or self.step == until:
                    now = time.perf_counter()
                    samples_per_s = (self.step - last_log_step) * config.batch_size / (now - last_log)
                    summary = self._record(metrics.flush(), samples_per_s)
                    last_log, last_log_step = now, self.step
                    if self.on_step and self.rank == 0:
                        self.on_step(self.step, summary)
                elif self.on_step and self.rank == 0:
                    self.on_step(self.step, None)
                paused = False
                if config.eval_every and self.step % config.eval_every == 0 and self.step < until:
                    self.evaluate_dev()
                    paused = True
                if config.checkpoint_every and self.step % config.checkpoint_every == 0:
                    self.save()
                    paused = True
                if paused:  # samples/s measures training alone
                    last_log, last_log_step = time.perf_counter(), self.step
        except KeyboardInterrupt:
            self.save()
            raise Interrupted(f"interrupted at step {self.step}; checkpoint saved to {self.run_dir / CHECKPOINT_NAME}, "
                              "continue with --resume") from None
        self.save()
        if self.step >= config.steps:
            summary["eval"] = self.evaluate_dev()
        return summary

    def _record(self, values: dict, samples_per_s: float) -> dict:
        h, l = self.depth(max(self.step - 1, 0))
        record = {"step": self.step, "progress": self.step / self.config.steps, "depth": [h, l],
                  "lr": self.learning_rate(self.step - 1), "samples_per_s": samples_per_s, **values}
        if self.rank == 0:
            self._append_metrics(record)
            self.log(
                f"step {self.step}/{self.config.steps}  loss {values['loss']:.4f}  "
                f"cell {values['cell_accuracy']:.3f}  grid {values['grid_accuracy']:.3f}  "
                f"halt {values['halting_accuracy']:.3f}  steps {values['mean_steps']:.1f}  "
                f"depth ({h},{l})  {samples_per_s:,.0f} samples/s"
            )
        return record

    def _append_metrics(self, record: dict) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def evaluate_dev(self) -> dict | None:
        if self.dev_set is None or self.rank != 0:
            return None
        result = evaluate(self.ema, self.dev_set, batch_size=self.config.eval_batch_size).to_dict()
        self._append_metrics({"step": self.step, "eval": result})
        self.log(
            f"eval step {self.step}: grid {result['grid_accuracy']:.4f} (all steps "
            f"{result['grid_accuracy_all_steps']:.4f})  blank cells {result['cell_accuracy']:.4f}  "
            f"halt {result['halting_accuracy']:.3f}  steps {result['mean_steps']:.2f}"
        )
        return result

    # -- checkpoints -----------------------------------------------------------------------------

    def _local_state(self) -> dict:
        state = {"stream": self.stream.state_dict(), "slots": self.slots.state_dict(),
                 "torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def save(self) -> None:
        local = distributed.gather_to_rank0(self._local_state(), self.rank, self.world)
        if self.rank != 0:
            return
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "model_config": self.model_config.to_dict(),
            "train_config": self.config.to_dict(),
            "ranks": local,
        })

    def _resume(self) -> None:
        state = load_checkpoint(self.run_dir / CHECKPOINT_NAME)
        if state["model_config"] != self.model_config.to_dict():
            raise UserError(f"{self.run_dir / CHECKPOINT_NAME}: the checkpoint's model config differs from this run's")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        ranks = state["ranks"]
        if len(ranks) == self.world:
            local = ranks[self.rank]
            self.stream.load_state_dict(local["stream"])
            self.slots = Slots.from_state(local["slots"], self.device)
            torch.set_rng_state(local["torch_rng"])
            if "cuda_rng" in local and self.device.type == "cuda":
                torch.cuda.set_rng_state(local["cuda_rng"], self.device)
        else:
            self.log(f"resuming on {self.world} processes from a checkpoint of {len(ranks)}: data order restarts")
        self.log(f"resumed from step {self.step}")

    def export(self, directory: Path) -> None:
        if self.rank == 0:
            export_weights(self.ema, directory, training={"steps": self.step, **self.config.to_dict()})
