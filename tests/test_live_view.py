"""`solve`'s live view: the model's refinement drawn as it happens, from the puzzle as posed to the verdict.

The engine yields each step (and, on request, each recursion pass inside a step) the moment it is
computed; the terminal view draws it then, not from a finished run. These tests record the order of
model calls and screen updates to tell live from replay.
"""

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from rich.console import Console
from rich.live import Live
from typer.testing import CliRunner

from sudoku_trm.cli import live as cli_live
from sudoku_trm.cli import solve as cli_solve
from sudoku_trm.cli.app import app
from sudoku_trm.inference import engine
from sudoku_trm.inference.engine import InferenceConfig, Pass, Step, solve_batch, solve_steps
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights, load_weights
from sudoku_trm.sudoku.puzzles import read_puzzles

runner = CliRunner()
EASY_FILE = str(ROOT / "puzzles" / "easy.txt")
SOLVER_PUZZLES = ROOT / "tests" / "fixtures" / "solver_puzzles.csv"
SOLVER_LIMIT = 4  # the solver fixture's halt_max_steps; its first ten puzzles halt at step 1


def plain(renderable) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


@pytest.fixture
def screen(monkeypatch):
    """Every live frame as plain text, in order, in one log with the model's calls and loading."""
    log: list[tuple[str, str]] = []

    class RecordingLive(Live):
        def update(self, renderable, *, refresh=False):
            log.append(("frame", plain(renderable)))
            super().update(renderable, refresh=refresh)

    forward = TRM.forward

    def logged_forward(self, *args, **kwargs):
        log.append(("forward", ""))
        return forward(self, *args, **kwargs)

    load_model = cli_solve.load_model

    def logged_load(options):
        log.append(("load", ""))
        return load_model(options)

    monkeypatch.setattr(cli_live, "Live", RecordingLive)
    monkeypatch.setattr(TRM, "forward", logged_forward)
    monkeypatch.setattr(cli_solve, "load_model", logged_load)
    return log


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=120, color_system="truecolor", highlight=False)


def watch(path, weights, **options):
    out = terminal()
    code = cli_solve.run(str(path), cli_solve.SolveOptions(weights=weights, delay=0.0, **options), out, terminal())
    return code, out.file.getvalue()


def step_of(frame: str) -> str:
    return re.search(r"^step \S+( pass \S+)?", frame, re.MULTILINE)[0]


@pytest.fixture(scope="module")
def deep_weights(tmp_path_factory) -> Path:
    """A model with three recursion passes a step (H_cycles 3), so there are passes to watch."""
    torch.manual_seed(1)
    model = TRM(ModelConfig(hidden_size=16, H_cycles=3, L_cycles=1, halt_max_steps=3))
    directory = tmp_path_factory.mktemp("deep-weights")
    export_weights(model, directory)
    return directory


# -- the engine yields steps as it computes them --------------------------------------------------


def test_each_step_is_yielded_before_the_next_is_computed(tiny_weights, monkeypatch):
    model = load_weights(tiny_weights)
    calls = []
    forward = TRM.forward
    monkeypatch.setattr(TRM, "forward", lambda self, *a, **k: calls.append(1) or forward(self, *a, **k))
    puzzles = read_puzzles(EASY_FILE).grids()
    run = solve_steps(model, puzzles, InferenceConfig(steps=3))
    for step in (1, 2, 3):
        event = next(run)
        assert isinstance(event, Step) and event.step == step and event.limit == 3
        assert len(calls) == step  # computed this step, not yet the next one
    with pytest.raises(StopIteration) as done:
        next(run)
    assert (done.value.value.steps == 3).all()


def test_solve_batch_is_the_drained_generator_and_times_only_the_engine(tiny_weights, monkeypatch):
    model = load_weights(tiny_weights)
    puzzles = read_puzzles(EASY_FILE).grids()
    config = InferenceConfig(trace=True, steps=3)
    drained = solve_batch(model, puzzles, config)
    clock = [0.0]  # a clock that moves only while the viewer holds a step
    monkeypatch.setattr(engine.time, "perf_counter", lambda: clock[0])
    run, events = solve_steps(model, puzzles, config), 0
    while True:
        try:
            event = next(run)
        except StopIteration as done:
            watched = done.value
            break
        events += 1
        clock[0] += 10.0  # a viewer taking its time must not count as the model's
        given = puzzles > 0
        assert np.array_equal(event.answers[given], puzzles[given])
    for name in ("answers", "steps", "halted", "trace_answers"):
        assert np.array_equal(getattr(drained, name), getattr(watched, name)), name
    assert watched.step_limit == drained.step_limit == model.config.halt_max_steps
    assert events == 3 and watched.seconds == 0.0


def test_a_stopped_puzzle_is_reported_once_with_its_decision(tiny_weights):
    model = load_weights(tiny_weights)
    puzzles = read_puzzles(EASY_FILE).grids()
    run = solve_steps(model, puzzles, InferenceConfig())
    stopped = {}
    while True:
        try:
            event = next(run)
        except StopIteration as done:
            solutions = done.value
            break
        for row, halts, stops in zip(event.rows, event.halts, event.stops):
            assert row not in stopped  # a stopped puzzle runs no further
            if stops:
                stopped[int(row)] = (event.step, bool(halts))
    assert {row: steps for row, (steps, _) in stopped.items()} == dict(enumerate(solutions.steps.tolist()))
    assert [halted for _, (_, halted) in sorted(stopped.items())] == solutions.halted.tolist()


# -- the live view ---------------------------------------------------------------------------------


def test_frame_zero_is_the_posed_puzzle_on_screen_before_the_model_loads(tiny_weights, screen, tmp_path):
    puzzle = read_puzzles(EASY_FILE).puzzles[0]
    path = tmp_path / "one.txt"
    path.write_text("".join(map(str, puzzle.grid)) + "\n")
    code, _ = watch(path, tiny_weights)
    assert code == 3  # the model alone (SolveOptions' default), whose answer breaks the rules
    kinds = [kind for kind, _ in screen]
    assert kinds[0] == "frame" and kinds.index("load") == 1  # nothing blank while the model loads
    first = screen[0][1]
    assert step_of(first) == "step 0" and "the puzzle as posed" in first and "loading the model" in first
    digits = "".join(re.findall(r"[1-9·]", "".join(l for l in first.splitlines() if l.startswith("│"))))
    assert digits == "".join(str(d) if d else "·" for d in puzzle.grid)


def test_only_the_first_watched_puzzle_waits_for_the_model_to_load(tiny_weights, screen, tmp_path):
    path = tmp_path / "two.txt"
    path.write_text("".join("".join(map(str, p.grid)) + "\n" for p in read_puzzles(EASY_FILE).puzzles[:2]))
    watch(path, tiny_weights, steps=1)
    frames_zero = [text for kind, text in screen if kind == "frame" and step_of(text) == "step 0"]
    assert len(frames_zero) == 2  # each puzzle is posed first
    assert "loading the model" in frames_zero[0] and "loading the model" not in frames_zero[1]
    assert [kind for kind, _ in screen].count("load") == 1


def test_steps_are_drawn_as_the_model_makes_them_not_replayed(tiny_weights, screen, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("".join(map(str, read_puzzles(EASY_FILE).puzzles[0].grid)) + "\n")
    watch(path, tiny_weights, steps=3)
    order = [kind if kind != "frame" else step_of(text) for kind, text in screen]
    assert order == ["step 0", "load", "step 0/3", "forward", "step 1/3", "forward", "step 2/3", "forward", "step 3/3"]


def test_status_counts_against_the_step_limit_and_shows_each_decision_when_made(solver_weights, screen, tmp_path):
    rows = read_puzzles(SOLVER_PUZZLES).puzzles
    path = tmp_path / "two.txt"
    path.write_text("".join(map(str, rows[0].grid)) + "\n" + "".join(map(str, rows[12].grid)) + "\n")
    code, shown = watch(path, solver_weights)
    assert code == 3  # the hard puzzle's answer breaks the rules
    statuses = [line for _, text in screen for line in text.splitlines() if line.startswith("step ")]
    steps = [s for s in statuses if not s.startswith("step 0")]
    # the easy puzzle halts at step 1 of 4; the hard one continues until the limit
    assert re.match(rf"step 1/{SOLVER_LIMIT} .*halt p=\d\.\d\d -> halt ", steps[0])
    hard = steps[1:]
    assert [s.split()[1] for s in hard] == [f"{k}/{SOLVER_LIMIT}" for k in range(1, SOLVER_LIMIT + 1)]
    assert all("-> continue" in s for s in hard[:-1]) and "-> step limit" in hard[-1]
    # the verdict follows the last frame and stays on screen, with that frame's status line
    assert "1 step (halted by the model)" in shown and f"{SOLVER_LIMIT} steps (step limit reached)" in shown


def test_the_readmes_first_command_animates(tiny_weights, screen):
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"sudoku-trm solve ([^\s&|;`]+)", readme)
    path = ROOT / command[1]
    count = len(read_puzzles(path).puzzles)
    assert count > cli_solve.ANIMATE_FIRST  # the reason for "the first few live, the rest listed"
    code, shown = watch(path, tiny_weights)
    assert code == 3
    frames = [text for kind, text in screen if kind == "frame"]
    titles = {re.match(r"^(\S+:\d+)", text)[1] for text in frames}
    assert len(titles) == cli_solve.ANIMATE_FIRST
    assert sum(step_of(f) == "step 0" for f in frames) == cli_solve.ANIMATE_FIRST
    assert shown.count("breaks a rule") == 1  # one legend, above the first watched answer
    assert re.search(r"\d+\.\d s of model work, [\d.]+ puzzles/s", shown)  # what the speed counts
    assert shown.count("┌") >= count  # every answer is shown, watched or not
    assert f"{count} puzzles:" in shown


def test_frames_stay_up_at_least_the_delay(tiny_weights, monkeypatch, tmp_path):
    times = []

    class TimedLive(Live):
        def update(self, renderable, *, refresh=False):
            times.append(time.perf_counter())
            super().update(renderable, refresh=refresh)

    monkeypatch.setattr(cli_live, "Live", TimedLive)
    path = tmp_path / "one.txt"
    path.write_text("".join(map(str, read_puzzles(EASY_FILE).puzzles[0].grid)) + "\n")
    cli_solve.run(str(path), cli_solve.SolveOptions(weights=tiny_weights, delay=0.05, steps=3), terminal(), terminal())
    gaps = np.diff(times[1:])  # from frame 0 once the model is there
    assert len(gaps) == 3 and (gaps >= 0.049).all()


# -- recursion passes ---------------------------------------------------------------------------------


def test_on_pass_sees_each_inner_pass_and_changes_nothing(deep_weights):
    model = load_weights(deep_weights)
    inputs = torch.from_numpy(read_puzzles(EASY_FILE).grids().astype(np.int64)) + 1
    carry = model.initial_carry(len(inputs))
    seen = []
    with torch.no_grad():
        plain_out = model(carry, inputs)
        watched = model(carry, inputs, on_pass=lambda n, y: seen.append((n, y.shape)))
    assert [n for n, _ in seen] == [1, 2]  # H_cycles 3: two inner passes, the third is the step's output
    for a, b in zip(plain_out[1:], watched[1:]):
        assert torch.equal(a, b)
    assert torch.equal(plain_out[0].y, watched[0].y)


def test_passes_come_before_their_step(deep_weights):
    model = load_weights(deep_weights)
    events = list(engine.solve_steps(model, read_puzzles(EASY_FILE).grids()[:2], InferenceConfig(passes=True, steps=2)))
    kinds = [(type(e).__name__, e.step, getattr(e, "number", None)) for e in events]
    assert kinds == [
        ("Pass", 1, 1),
        ("Pass", 1, 2),
        ("Step", 1, None),
        ("Pass", 2, 1),
        ("Pass", 2, 2),
        ("Step", 2, None),
    ]
    assert all(e.passes == 3 for e in events if isinstance(e, Pass))


def test_show_passes_draws_them_live_in_the_trace_and_in_the_svg(deep_weights, screen, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("".join(map(str, read_puzzles(EASY_FILE).puzzles[0].grid)) + "\n")
    watch(path, deep_weights, steps=2, show_passes=True)
    frames = [step_of(text) for kind, text in screen if kind == "frame"]
    assert frames == [
        "step 0",
        "step 0/2",
        "step 1/2 pass 1/3",
        "step 1/2 pass 2/3",
        "step 1/2",
        "step 2/2 pass 1/3",
        "step 2/2 pass 2/3",
        "step 2/2",
    ]
    pass_frame = next(text for kind, text in screen if kind == "frame" and " pass 1/3" in text)
    assert "no halting call yet" in pass_frame and "halt p=" not in pass_frame

    svg = tmp_path / "steps.svg"
    args = ["solve", str(path), "--weights", str(deep_weights), "--steps", "2", "--show-passes", "--trace"]
    result = runner.invoke(app, [*args, "--svg", str(svg)])
    assert result.exit_code == 3, result.output  # a random model: its answer breaks the rules
    traced = re.findall(r"^step \S+(?: pass \S+)?", result.stdout, re.MULTILINE)
    assert traced == frames[1:]  # the same frames, the puzzle as posed first
    assert "pass&#160;2/3" in svg.read_text()
