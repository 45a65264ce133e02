"""Puzzle sets: whole files as compact arrays, with an `.npz` cache (training and eval read them).

A `PuzzleSet` is a pair of compact uint8 arrays (questions, answers), one row of 81 cells per puzzle
(0 = blank). Loading a CSV parses it once and caches the arrays as `.npz`, keyed by the file's content,
so a re-run starts in milliseconds. Puzzles listed without an answer are solved by the exact solver;
those without exactly one solution are dropped and reported, since they have no single target.

A source `generated:LEVEL:COUNT[:SEED]` is no file: the generator makes those puzzles (sudoku/generate.py),
once, into the same cache, so training needs no data files at all; the default sources ship ready-made
in `made/`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sudoku_trm.errors import InputError, UserError
from sudoku_trm.files import atomic_write
from sudoku_trm.sudoku.checking import check_puzzles
from sudoku_trm.sudoku.generate import GeneratedSource, generate, generated_source
from sudoku_trm.sudoku.logic import LEVELS
from sudoku_trm.sudoku.puzzles import LITERAL_NAME, STDIN_NAME, is_puzzle_literal, read_puzzles

# Generated sets shipped with the package, as `generate -n COUNT -d LEVEL --seed SEED --format csv --answers`
# writes them, named as GeneratedSource.name: the training defaults (training/config.py).
MADE_DIR = Path(__file__).resolve().parent / "made"
Announce = Callable[[str], None]  # hears what is being made before a wait (generated sources)
CACHE_FORMAT = 2  # bump when the cached arrays change meaning
DEFAULT_CACHE_DIR = Path(os.environ.get("SUDOKU_TRM_CACHE", Path.home() / ".cache" / "sudoku-trm"))


@dataclass
class PuzzleSet:
    questions: np.ndarray  # (N, 81) uint8, 0 = blank
    answers: np.ndarray  # (N, 81) uint8, a complete valid grid
    # (N,) int32: the file's `rating` column where it has one; for puzzles solved here, the guesses of our
    # solver, which propagates further than the column's plain backtracker (about half its count).
    ratings: np.ndarray
    name: str = ""
    errors: list[InputError] = field(default_factory=list)  # lines skipped while loading
    # (N,) int64: which of the concatenated sources each puzzle came from (`concat`), named by `group_names`
    groups: np.ndarray | None = None
    group_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.questions)

    def subset(self, indices: np.ndarray) -> "PuzzleSet":
        groups = None if self.groups is None else self.groups[indices]
        return PuzzleSet(
            self.questions[indices],
            self.answers[indices],
            self.ratings[indices],
            self.name,
            [],
            groups,
            self.group_names,
        )

    @staticmethod
    def concat(sets: list["PuzzleSet"], name: str = "") -> "PuzzleSet":
        return PuzzleSet(
            np.concatenate([s.questions for s in sets]),
            np.concatenate([s.answers for s in sets]),
            np.concatenate([s.ratings for s in sets]),
            name or "+".join(s.name for s in sets),
            [e for s in sets for e in s.errors],
            np.repeat(np.arange(len(sets)), [len(s) for s in sets]),
            tuple(s.name for s in sets),
        )


def _parse_puzzle_file(path: Path) -> PuzzleSet:
    result = read_puzzles(str(path))
    literal = is_puzzle_literal(str(path))
    name = STDIN_NAME if str(path) == "-" else LITERAL_NAME if literal else str(path)
    if not result.puzzles:
        raise InputError("no usable puzzles", name)
    questions = np.stack([p.grid for p in result.puzzles]).astype(np.uint8)
    answers = np.zeros_like(questions)
    ratings = np.array([-1 if p.rating is None else p.rating for p in result.puzzles], dtype=np.int32)
    has_answer = np.array([p.answer is not None for p in result.puzzles])
    for i in np.flatnonzero(has_answer):
        answers[i] = result.puzzles[i].answer
    errors = list(result.errors)
    keep = np.ones(len(questions), dtype=bool)
    missing = np.flatnonzero(~has_answer)
    if missing.size:
        # The exact solver supplies the answers; a puzzle without exactly one solution has no target.
        checks, problems = check_puzzles([result.puzzles[i] for i in missing])
        errors.extend(problems)
        for i, check in zip(missing, checks):
            keep[i] = check.solutions == 1
            if keep[i]:
                answers[i] = check.solution
                if ratings[i] < 0:
                    ratings[i] = check.guesses
    return PuzzleSet(
        questions[keep], answers[keep], ratings[keep], name.strip("<>") if name != str(path) else path.stem, errors
    )


def _cache_path(path: Path, cache_dir: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    return cache_dir / f"{path.stem}-{digest}-v{CACHE_FORMAT}.npz"


def load_puzzle_set(
    path: str | Path, cache_dir: Path | None = DEFAULT_CACHE_DIR, announce: Announce | None = None
) -> PuzzleSet:
    """Load a puzzle file (any form puzzles.py reads) into arrays, through the `.npz` cache.

    `cache_dir=None` disables the cache. Skipped lines are in `.errors`, from the cache as well. The file
    is read by `read_puzzles`, as `solve` and `check` read theirs: `-` is stdin (never cached), and a
    missing file or a directory is its InputError. A `generated:` source is made (and said to `announce`)
    unless the cache has it.
    """
    try:
        source = generated_source(str(path))
    except ValueError as error:
        raise InputError(str(error).split(": ", 1)[1], str(path)) from None
    if source is not None:
        return _generated_set(source, cache_dir, announce)
    path = Path(path)
    if cache_dir is None or str(path) == "-" or not path.is_file():
        return _parse_puzzle_file(path)
    cached = _cache_path(path, Path(cache_dir))
    if cached.exists():
        try:
            with np.load(cached) as arrays:
                # Named by this path: the cache is keyed by content, which another path may share.
                errors = [
                    InputError(str(m), str(path), int(n) if n >= 0 else None)
                    for m, n in zip(arrays["error_messages"], arrays["error_lines"])
                ]
                return PuzzleSet(arrays["questions"], arrays["answers"], arrays["ratings"], path.stem, errors)
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache is rebuilt, never trusted
    puzzle_set = _parse_puzzle_file(path)
    try:
        errors = puzzle_set.errors  # kept, so a cached load still reports the lines it skipped
        arrays = {
            "questions": puzzle_set.questions,
            "answers": puzzle_set.answers,
            "ratings": puzzle_set.ratings,
            "error_messages": np.array([e.message for e in errors], dtype=str),
            "error_lines": np.array([-1 if e.line is None else e.line for e in errors], dtype=np.int64),
        }
        atomic_write(cached, lambda handle: np.savez(handle, **arrays))  # readers never see half a cache
    except OSError:
        pass  # a read-only cache directory only costs speed
    return puzzle_set


def _generated_set(source: GeneratedSource, cache_dir: Path | None, announce: Announce | None = None) -> PuzzleSet:
    """The source's puzzles, from the cache when made before (the generator is seeded: same source, same
    puzzles); ratings are the level's index in LEVELS (0 singles, 1 logic, 2 guesses)."""
    level = LEVELS.index(source.level)
    packaged = MADE_DIR / f"{source.name}.csv"
    if packaged.is_file():  # the defaults ship with the package: a fresh install trains at once
        made = load_puzzle_set(packaged, cache_dir)
        return PuzzleSet(made.questions, made.answers, np.full(len(made), level, dtype=np.int32), source.name)
    cached = None if cache_dir is None else Path(cache_dir) / f"{source.name}-v{CACHE_FORMAT}.npz"
    if cached is not None and cached.exists():
        try:
            with np.load(cached) as arrays:
                return PuzzleSet(arrays["questions"], arrays["answers"], arrays["ratings"], source.name)
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache is made again, never trusted
    if announce is not None:
        where = "" if cache_dir is None else f"; kept in {cache_dir} for the next run"
        announce(f"making {source.count} {source.level} puzzles (seed {source.seed}){where}")
    made = list(generate(source.count, source.level, source.seed))
    puzzle_set = PuzzleSet(
        np.stack([m.puzzle for m in made]),
        np.stack([m.solution for m in made]),
        np.full(len(made), level, dtype=np.int32),
        source.name,
    )
    if cached is not None:
        arrays = {"questions": puzzle_set.questions, "answers": puzzle_set.answers, "ratings": puzzle_set.ratings}
        try:
            atomic_write(cached, lambda handle: np.savez(handle, **arrays))
        except OSError:
            pass  # a read-only cache directory only costs time
    return puzzle_set


def load_puzzle_sets(
    paths: list[str | Path], cache_dir: Path | None = DEFAULT_CACHE_DIR, announce: Announce | None = None
) -> PuzzleSet:
    """Load and concatenate several files (or generated sources) into one set."""
    if not paths:
        raise UserError("no puzzle files given")
    return PuzzleSet.concat([load_puzzle_set(p, cache_dir, announce) for p in paths])
