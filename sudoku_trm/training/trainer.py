"""The CGAR trainer: deep supervision with learned halting, a depth curriculum and step weighting.

Read `Trainer.train_step` (one optimiser step) and `Trainer.run` (the loop around it); the setup
functions above them each do one job.

The batch is a fixed set of B slots (training/slots.py), each holding one puzzle in flight with its
carried state (y, z). An optimiser step runs ONE supervision step for every slot: slots whose puzzle
halted at the last step take fresh puzzles, the model runs, the weights and the EMA update, and the
halting rule marks the slots that are done. The refill keeps rows of a freshly drawn full batch with
`torch.where`, so the GPU always works on a full batch and deciding who leaves needs no host-device
sync; the host syncs once per log line (training/metrics.py).

Data parallel under `torchrun`: every rank trains its own slots on its share of the batch and DDP
averages the gradients (see `model_call`). Checkpoints gather every rank's stream, slots and RNG to
rank 0, so a resumed run continues bit-for-bit.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from sudoku_trm.errors import Interrupted, UserError
from sudoku_trm.inference.scores import evaluate
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.devices import autocast_for, resolve_device
from sudoku_trm.model.trm import TRM, Carry
from sudoku_trm.model.weights import export_weights
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_sets
from sudoku_trm.training import distributed
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.curriculum import CurriculumPlan, DepthSchedule
from sudoku_trm.training.losses import supervision_loss
from sudoku_trm.training.metrics import RunningMetrics, Throughput, append_record, eval_line, step_line
from sudoku_trm.training.optim import build_optimizer
from sudoku_trm.training.slots import Slots
from sudoku_trm.training.stream import TrainingStream, paper_protocol_set

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


def load_data(config: TrainConfig) -> tuple[PuzzleSet, PuzzleSet | None]:
    """The training set (with --subsample, the paper's fixed augmented set) and the dev set, if any."""
    train = load_puzzle_sets(list(config.data))
    if config.subsample:
        train = paper_protocol_set(train, config.subsample, config.augment_copies, config.seed)
    if not config.dev:
        return train, None
    dev = load_puzzle_sets([config.dev])
    return train, dev.subset(slice(0, config.dev_limit)) if config.dev_limit else dev


def build_model(
    model_config: ModelConfig, config: TrainConfig, device: torch.device
) -> tuple[TRM, TRM, torch.optim.Optimizer]:
    """The model, its EMA copy and the optimiser; every rank seeds alike, so all start from one init."""
    torch.manual_seed(config.seed)
    model = TRM(model_config).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = build_optimizer(config.optimizer, model.parameters(), config.lr, config.betas, config.weight_decay)
    return model, ema, optimizer


def model_call(model: TRM, config: TrainConfig, world: int, device: torch.device) -> ModelCall:
    """What the loop calls to run `model`. Under torchrun it is wrapped in DDP, which would broadcast
    rank 0's weights (equal already) and all-reduces the gradients during backward, so every rank then
    clips and steps the same averaged gradient. Compiled with --compile. Everything else (optimiser,
    EMA, checkpoints, export) uses `model` itself, whose parameters the wrappers share."""
    call: ModelCall = model
    if world > 1:
        call = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(call) if config.compile else call


@torch.no_grad()
def update_ema(ema: TRM, model: TRM, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)


class Trainer:
    """`model` is the TRM being trained and `forward` what calls it (DDP, compile); `ema` its moving
    average, which is evaluated and exported; `slots` the puzzles in flight; `step` the steps done."""

    def __init__(
        self,
        model_config: ModelConfig,
        config: TrainConfig,
        log: Callable[[str], None] = print,
        on_step: Callable[[int, dict | None], None] | None = None,
    ):
        """`log` receives text lines (rank 0 only); `on_step(step, latest record or None)` drives a progress bar."""
        self.model_config, self.config, self.log, self.on_step = model_config, config, log, on_step
        self.rank, self.world, self.device = join_processes(config)
        self.local_batch = config.batch_size // self.world
        self.run_dir = Path(config.runs_dir) / config.name
        self.train_set, self.dev_set = load_data(config)
        self.plan = curriculum_plan(config, model_config)
        self.model, self.ema, self.optimizer = build_model(model_config, config, self.device)
        self.forward = model_call(self.model, config, self.world, self.device)
        torch.manual_seed(config.seed + self.rank)  # ranks explore halting differently
        self.stream = TrainingStream(
            self.train_set,
            self.local_batch,
            self.device,
            seed=config.seed + 1000 * self.rank,
            easier_share=config.easier_share,
        )
        self.slots = Slots.empty(self.model, self.local_batch, self.device)
        self.step = 0  # optimiser steps done
        if config.resume:
            self.resume()

    # -- schedules -------------------------------------------------------------------------------

    def learning_rate(self, step: int) -> float:
        """Linear warm-up, then constant (the TRM recipe)."""
        warmup = self.config.warmup_steps
        return self.config.lr * min(1.0, (step + 1) / warmup) if warmup else self.config.lr

    def depth(self, step: int) -> tuple[int, int]:
        return self.plan.depth_at(step / self.config.steps)

    def ema_decay(self, step: int) -> float:
        """The configured decay, ramped in as (1 + t) / (10 + t): without the ramp a 0.999 EMA is still
        mostly the random initialisation after a few hundred steps, which spoils short runs' evaluation
        and export; long runs reach the full decay after ~9k steps and are unaffected after that."""
        return min(self.config.ema_decay, (1 + step) / (10 + step))

    # -- one optimiser step, and the loop --------------------------------------------------------

    def train_step(self, metrics: RunningMetrics) -> None:
        """One optimiser step: one supervision step for every slot."""
        slots, config = self.slots, self.config
        # 1. Slots whose puzzle halted at the end of the last step take fresh puzzles.
        slots.refill(self.stream.next_batch(), self.model)
        # 2. This step's depth (PDC) and learning rate (warm-up).
        h_cycles, l_cycles = self.depth(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.step)
        # 3. One supervision step; each slot's loss weighs by its own step (HSW); update, then the EMA.
        with autocast_for(self.device, config.bf16):
            slots.carry, logits, halt_logit = self.forward(slots.carry, slots.inputs, h_cycles, l_cycles)
        loss = supervision_loss(
            logits, halt_logit, slots.labels, self.plan.weights(slots.steps), config.halt_loss_weight
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        update_ema(self.ema, self.model, self.ema_decay(self.step))
        self.step += 1
        # 4. Which slots are done: they take fresh puzzles at step 1 of the next call.
        halt_logit = halt_logit.detach()
        slots.halt_after(halt_logit, self.model_config.halt_max_steps, self.model_config.halt_exploration_prob)
        # 5. Metrics, summed on the device.
        metrics.add(loss, halt_logit, slots)

    def run(self, until: int | None = None) -> dict:
        """Train to `config.steps` (or stop at `until`), logging, evaluating and checkpointing on schedule.
        Returns the last logged record, with the final dev evaluation under "eval" when training is done."""
        config, until = self.config, min(until or self.config.steps, self.config.steps)
        metrics, speed, summary = RunningMetrics(self.device), Throughput(self.step, config.batch_size), {}
        try:
            while self.step < until:
                self.train_step(metrics)  # steps 1-5
                # 6. Log, evaluate and checkpoint on schedule; samples/s counts training alone.
                record = None
                if self._every(config.log_every) or self.step == until:
                    values = metrics.flush()  # waits for the device, so the clock reads after it
                    summary = record = self.log_step(values, speed.samples_per_s(self.step))
                    speed.restart(self.step)
                if self.on_step and self.rank == 0:
                    self.on_step(self.step, record)
                if self._every(config.eval_every) and self.step < until:
                    self.evaluate_dev()
                    speed.restart(self.step)
                if self._every(config.checkpoint_every):
                    self.save()
                    speed.restart(self.step)
        except KeyboardInterrupt:
            self.save()
            raise Interrupted(
                f"interrupted at step {self.step}; checkpoint saved to {self.run_dir / CHECKPOINT_NAME}, "
                "continue with --resume"
            ) from None
        self.save()
        if self.step >= config.steps:
            summary["eval"] = self.evaluate_dev()
        return summary

    def _every(self, interval: int) -> bool:
        return bool(interval) and self.step % interval == 0

    # -- logging and evaluation ------------------------------------------------------------------

    def log_step(self, values: dict[str, float], samples_per_s: float) -> dict:
        """The figures since the last log line as a metrics.jsonl record and a log line (rank 0); the
        depth and learning rate are the last step's."""
        record = {
            "step": self.step,
            "progress": self.step / self.config.steps,
            "depth": list(self.depth(max(self.step - 1, 0))),
            "lr": self.learning_rate(self.step - 1),
            "samples_per_s": samples_per_s,
            **values,
        }
        if self.rank == 0:
            append_record(self.run_dir / "metrics.jsonl", record)
            self.log(step_line(record, self.config.steps))
        return record

    def evaluate_dev(self) -> dict | None:
        """The EMA's dev figures (rank 0), each puzzle read at its own halting step."""
        if self.dev_set is None or self.rank != 0:
            return None
        result = evaluate(self.ema, self.dev_set, batch_size=self.config.eval_batch_size).to_dict()
        append_record(self.run_dir / "metrics.jsonl", {"step": self.step, "eval": result})
        self.log(eval_line(self.step, result))
        return result

    # -- checkpoints and export ------------------------------------------------------------------

    def save(self) -> None:
        """Write the checkpoint atomically (rank 0); every rank must call it, to hand over its own state."""
        ranks = distributed.gather_to_rank0(self._rank_state(), self.rank, self.world)
        if self.rank == 0:
            save_checkpoint(
                self.run_dir / CHECKPOINT_NAME,
                {
                    "model": self.model.state_dict(),
                    "ema": self.ema.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "step": self.step,
                    "model_config": self.model_config.to_dict(),
                    "train_config": self.config.to_dict(),
                    "ranks": ranks,
                },
            )

    def resume(self) -> None:
        """Continue from the run's checkpoint: weights, EMA, optimiser, step and, on as many processes as
        wrote it, each rank's stream, slots and RNG."""
        path = self.run_dir / CHECKPOINT_NAME
        state = load_checkpoint(path)
        if state["model_config"] != self.model_config.to_dict():
            raise UserError(f"{path}: the checkpoint's model config differs from this run's")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, ranks = state["step"], state["ranks"]
        if len(ranks) == self.world:
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
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _load_rank_state(self, state: dict) -> None:
        self.stream.load_state_dict(state["stream"])
        self.slots = Slots.from_state(state["slots"], self.device)
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)

    def export(self, directory: Path) -> None:
        """The EMA weights, as `sudoku-trm eval` and the Hub load them (rank 0)."""
        if self.rank == 0:
            export_weights(self.ema, directory, training={"steps": self.step, **self.config.to_dict()})
