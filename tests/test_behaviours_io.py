"""Files and models as a user meets them: an interrupted atomic write (files.py) leaves the old file and no
temporary one; `load_model` (pretrained.py) asks the Hub for the revision asked and never for an existing
local directory; a model's probabilities are read the way it was trained (model/readout.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import PUZZLES
from scripted_models import StandIn

import sudoku_trm.hub.client
from sudoku_trm.errors import UserError
from sudoku_trm.files import atomic_write
from sudoku_trm.inference.engine import solve
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.readout import best_digits, digit_probabilities, log_stablemax, says_halt
from sudoku_trm.model.tokens import DIGIT_TOKENS
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights
from sudoku_trm.pretrained import load_model
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

# -- atomic writes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, RuntimeError, SystemExit])
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_one(tmp_path, interrupt):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old contents")

    def write(handle):
        handle.write(b"half of the new")
        raise interrupt()

    with pytest.raises(interrupt):
        atomic_write(target, write)
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_an_interrupted_first_write_leaves_nothing(tmp_path):
    target = tmp_path / "deeper" / "new.bin"

    def write(handle):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert list(target.parent.iterdir()) == []


def test_a_write_replaces_the_whole_file_and_leaves_nothing_beside(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("a much longer old text than the new one")
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# -- load_model: the Hub only for OWNER/NAME, with the options asked ------------------------------------


@pytest.fixture
def hub_calls(monkeypatch, tmp_path):
    """fetch_model stood in: records its arguments and returns an exported tiny model's directory."""
    exported = tmp_path / "from-hub"
    export_weights(TRM(ModelConfig(hidden_size=8, H_cycles=1, L_cycles=1, halt_max_steps=2)), exported)
    calls = []

    def fetch_model(repo_id, **options):
        calls.append((repo_id, options))
        return exported

    monkeypatch.setattr(sudoku_trm.hub.client, "fetch_model", fetch_model)
    return calls


def test_load_model_asks_the_hub_for_the_revision_and_options_given(hub_calls, tmp_path):
    model = load_model(
        "someone/model",
        revision="v2",
        cache_dir=tmp_path / "cache",
        force_download=True,
        local_files_only=True,
        token="secret",
    )
    assert isinstance(model, TRM) and model.config.hidden_size == 8
    assert hub_calls == [
        (
            "someone/model",
            dict(
                revision="v2",
                cache_dir=tmp_path / "cache",
                force_download=True,
                local_files_only=True,
                token="secret",
            ),
        )
    ]
    load_model("someone/model")
    assert hub_calls[-1][1]["revision"] is None and hub_calls[-1][1]["force_download"] is False


def test_an_existing_directory_named_like_owner_slash_name_is_loaded_from_disk(hub_calls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export_weights(TRM(ModelConfig(hidden_size=12, H_cycles=1, L_cycles=1, halt_max_steps=2)), tmp_path / "dir" / "sub")
    assert load_model("dir/sub").config.hidden_size == 12
    assert load_model(tmp_path / "dir" / "sub").config.hidden_size == 12
    assert hub_calls == []
    with pytest.raises(UserError, match="not a directory"):
        (tmp_path / "dir" / "file").write_text("{}")
        load_model("dir/file/")
    assert hub_calls == []


def test_load_model_puts_the_model_where_asked(hub_calls, tmp_path):
    export_weights(TRM(ModelConfig(hidden_size=8, H_cycles=1, L_cycles=1, halt_max_steps=2)), tmp_path / "m")
    model = load_model(tmp_path / "m", map_location="meta")
    assert next(model.parameters()).device.type == "meta"


# -- the readout the model was trained with ---------------------------------------------------------------


class Gap(StandIn):
    """Every blank reads its solution digit with a logit 5 above the other digits (0), and halts at once."""

    def __init__(self, solutions: np.ndarray, readout: str):
        super().__init__(None, horizon=2)
        self.config = ModelConfig(hidden_size=8, halt_max_steps=2, puzzle_emb_len=1, readout=readout)
        self.solutions = torch.from_numpy(solutions.astype(np.int64))

    def forward(self, carry, inputs):
        logits = torch.full((len(inputs), 81, self.config.vocab_size), -50.0)
        logits[..., DIGIT_TOKENS] = 0.0
        index = (self.solutions[: len(inputs)] + DIGIT_TOKENS.start - 1).unsqueeze(-1)
        logits.scatter_(2, index, 5.0)
        return carry, logits, torch.full((len(inputs),), 10.0)


SOFT = float(np.exp(5.0) / (np.exp(5.0) + 8))  # 0.949
STABLE = 6 / 14  # stable-max: (5 + 1) / (6 + 8 x 1)


@pytest.mark.parametrize("readout, probability", [("softmax", SOFT), ("stablemax", STABLE)])
def test_the_confidence_is_read_the_way_the_model_was_trained(readout, probability):
    easy = load_puzzle_set(PUZZLES / "easy.txt").subset(np.arange(1))
    model = Gap(easy.answers, readout)
    result = solve(model, easy.questions)
    blank = easy.questions[0] == 0
    assert (result.answers == easy.answers).all()
    assert result.confidence[0][blank] == pytest.approx(probability, abs=1e-5)


def test_a_models_readout_survives_export_and_load(tmp_path):
    for readout in ("softmax", "stablemax"):
        model = TRM(ModelConfig(hidden_size=8, H_cycles=1, L_cycles=1, halt_max_steps=2, readout=readout))
        export_weights(model, tmp_path / readout)
        assert load_model(tmp_path / readout).config.readout == readout


def test_digit_probabilities_ignore_pad_and_blank_and_pick_digits_one_to_nine():
    logits = torch.zeros(1, 81, 11)
    logits[0, :, 0] = logits[0, :, 1] = 40.0  # pad and blank: never an answer
    logits[0, 0, DIGIT_TOKENS.start + 8] = 3.0  # cell 0 reads 9
    for readout in ("softmax", "stablemax"):
        probabilities = digit_probabilities(logits, readout)
        assert probabilities.shape == (1, 81, 9)
        assert probabilities.sum(-1).allclose(torch.ones(1, 81))
        assert probabilities[0, 1].allclose(torch.full((9,), 1 / 9))
        probability, digit = best_digits(logits, readout)
        assert digit[0, 0].item() == 9 and digit[0, 1].item() == 1
    assert best_digits(logits, "stablemax")[0][0, 0].item() == pytest.approx(4 / 12)


def test_stable_max_is_linear_above_zero_and_reciprocal_below():
    logits = torch.tensor([[2.0, 0.0, -1.0, -3.0]])
    s = torch.tensor([3.0, 1.0, 0.5, 0.25])
    assert log_stablemax(logits).exp().allclose(s / s.sum())
    assert says_halt(torch.tensor([0.5, 0.0, -0.5])).tolist() == [True, False, False]
