"""Training data that needs no files: `generated:LEVEL:COUNT[:SEED]` sources (sudoku/generate.py) made by the
generator, cached, and for the defaults shipped ready-made with the package (sudoku/puzzle_sets.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

import sudoku_trm.sudoku.puzzle_sets as puzzle_sets
from sudoku_trm.errors import InputError
from sudoku_trm.sudoku.generate import GeneratedSource, generate, generated_source
from sudoku_trm.sudoku.grid import valid_solutions
from sudoku_trm.sudoku.logic import LEVELS, levels
from sudoku_trm.sudoku.puzzle_sets import MADE_DIR, load_puzzle_set, load_puzzle_sets
from sudoku_trm.training.config import GENERATED_DATA, GENERATED_DEV, TrainConfig


def test_a_spec_names_level_count_and_seed():
    assert generated_source("generated:logic:30") == GeneratedSource("logic", 30, 0)
    assert generated_source("generated:guesses:5:7") == GeneratedSource("guesses", 5, 7)
    assert generated_source("puzzles/easy.txt") is None and generated_source("generatedx.csv") is None
    assert GeneratedSource("guesses", 5, 7).name == "generated-guesses-5-seed7"


@pytest.mark.parametrize(
    "spec",
    [
        "generated:hard:10",
        "generated:singles",
        "generated:singles:ten",
        "generated:singles:0",
        "generated:logic:3:-1",
        "generated:logic:1:2:3",
    ],
)
def test_a_bad_spec_is_one_line_naming_it(spec, tmp_path):
    with pytest.raises(InputError) as caught:
        load_puzzle_set(spec, tmp_path)
    assert str(caught.value).startswith(f"{spec}: ") and "\n" not in str(caught.value)


def test_a_source_is_made_once_as_the_generator_makes_it_then_read_from_the_cache(tmp_path, monkeypatch):
    said: list[str] = []
    made = load_puzzle_set("generated:logic:4:3", tmp_path, said.append)
    expected = list(generate(4, "logic", 3))
    assert np.array_equal(made.questions, np.stack([m.puzzle for m in expected]))
    assert np.array_equal(made.answers, np.stack([m.solution for m in expected]))
    assert made.ratings.tolist() == [LEVELS.index("logic")] * 4 and made.name == "generated-logic-4-seed3"
    assert len(said) == 1 and "making 4 logic puzzles (seed 3)" in said[0] and str(tmp_path) in said[0]

    def never(*args, **kwargs):
        raise AssertionError("a cached source is not made again")

    monkeypatch.setattr(puzzle_sets, "generate", never)
    again = load_puzzle_set("generated:logic:4:3", tmp_path, said.append)
    assert np.array_equal(again.questions, made.questions) and len(said) == 1
    with pytest.raises(AssertionError):
        load_puzzle_set("generated:logic:4:4", tmp_path)  # another seed is another source


def test_the_defaults_ship_with_the_package_and_are_what_their_names_say(tmp_path, monkeypatch):
    """No default source is generated on a fresh install: each is a packaged file, of its count, whose
    puzzles are the generator's for that seed (the first three checked: the first k of any count are the same
    k), unique, solved by their answers and graded at their level."""

    def never(*args, **kwargs):
        raise AssertionError("a default source must ship ready-made")

    defaults = (*GENERATED_DATA, GENERATED_DEV)
    assert TrainConfig().data == GENERATED_DATA and TrainConfig().dev == GENERATED_DEV
    for spec in defaults:
        source = generated_source(spec)
        assert source is not None and (MADE_DIR / f"{source.name}.csv").is_file(), spec
    monkeypatch.setattr(puzzle_sets, "generate", never)
    for spec in defaults:
        source = generated_source(spec)
        assert source is not None
        loaded = load_puzzle_sets([spec], tmp_path)
        assert len(loaded) == source.count and not loaded.errors
        first = [m.puzzle for m in generate(3, source.level, source.seed)]
        assert np.array_equal(loaded.questions[:3], np.stack(first)), spec
        assert valid_solutions(loaded.questions, loaded.answers).all()
        assert set(levels(loaded.questions)) == {source.level}
        assert (loaded.ratings == LEVELS.index(source.level)).all()


def test_the_packaged_sets_are_installed_with_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert MADE_DIR == ROOT / "sudoku_trm" / "sudoku" / "made" and '"sudoku_trm.sudoku" = ["made/*.csv"]' in section
