"""Read and write Sudoku puzzle files; every problem names its file, line and cause.

Three forms are read, detected once per file (see `_detect_form` for the rules):

* line form: one 81-character puzzle a line, optionally followed by its 81-character answer after
  whitespace or a comma;
* grid form: 9 lines of 9 cells with optional `|` between cells and `-`/`+` separator lines, several
  grids a file (the `.sdk` / `.ss` layouts included);
* CSV with a header naming a question column (`question`, `quizzes` or `puzzle`) and optionally an answer
  column (`answer`, `solutions` or `solution`), `source` and `rating`, in any order; other columns are ignored.

Everywhere a blank cell may be written `.` `0` `_` `*` `x` or `X`; digits are 1..9. Blank lines and lines
starting with `#` are ignored (in grid form a blank line also ends a grid).

A bad line never costs the rest of the file: `read_puzzles` returns every good puzzle together with one
`InputError` per bad line (file, line and the first problem found). A puzzle is good when its cells parse,
its givens repeat no digit in a row, column or box, and any answer listed with it is a complete valid grid
that keeps every given. A line with a bad answer is reported and dropped whole, so every returned answer is
trustworthy. Problems with the file itself (missing, a directory, not UTF-8 text, nothing in it, a CSV
header without a question column) raise `InputError` instead.
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Sequence

import numpy as np

from sudoku_trm.errors import InputError
from sudoku_trm.sudoku.grid import (
    CELLS,
    answer_problems,
    cell_name,
    changed_givens,
    find_conflicts,
    has_conflicts,
    valid_solutions,
)

STDIN_NAME = "<stdin>"
LITERAL_NAME = "<puzzle>"  # a puzzle typed where a file name goes
BLANK_CHARS = ".0_*xX"
FORMATS = ("line", "grid", "csv")

QUESTION_COLUMNS = ("question", "quizzes", "puzzle")  # first one present wins
ANSWER_COLUMNS = ("answer", "solutions", "solution")

_ILLEGAL = 255
_CELL_CODES = np.full(256, _ILLEGAL, dtype=np.uint8)  # byte -> cell value, _ILLEGAL for anything else
for _char in BLANK_CHARS:
    _CELL_CODES[ord(_char)] = 0
for _digit in range(1, 10):
    _CELL_CODES[ord(str(_digit))] = _digit
_CELL_VALUE = {chr(code): int(value) for code, value in enumerate(_CELL_CODES) if value != _ILLEGAL}

_SEPARATOR_CHARS = set("-=+|*")
_NOT_A_CELL = str.maketrans("", "", " \t\f\v\r|+-=,")  # what detection strips before counting cells
_FIELD_SPLIT = re.compile(r"[\s,]+")
_HEADER_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,39}")
_LONG_LINE = 27  # a line with this many cell characters or more is a whole puzzle, not a grid row
_DETECTION_SAMPLE = 2000  # significant lines looked at to choose between line and grid form
# A command-line argument made only of cell characters, about a puzzle long, is a puzzle (when no such file
# exists): long enough that no file name is taken for one, loose enough that 80 or 82 cells get the
# parser's "expected 81 cells" instead of "no such file".
_LITERAL = re.compile(rf"[1-9{re.escape(BLANK_CHARS)}]{{60,100}}")


@dataclass(eq=False)
class Puzzle:
    """One puzzle read from a file; `line` is where it starts (1-based): a CSV row's line, a grid's first row."""

    grid: np.ndarray  # uint8[81], row-major, 0 = blank
    answer: np.ndarray | None  # uint8[81], a complete grid that solves `grid`, when the file lists one
    file: str
    line: int
    source: str | None = None
    rating: int | None = None


@dataclass
class ReadResult:
    """The good puzzles of a file, in file order, and one error per bad line, by line."""

    puzzles: list[Puzzle] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)

    def grids(self) -> np.ndarray:
        """The puzzles' grids as one (N, 81) uint8 array."""
        if not self.puzzles:
            return np.zeros((0, CELLS), dtype=np.uint8)
        return np.stack([p.grid for p in self.puzzles])


# ---------------------------------------------------------------------------------------------- reading


def is_puzzle_literal(argument: str | Path) -> bool:
    """A puzzle typed where a file name goes: cell characters only, about 81 of them, and no such file."""
    return (
        isinstance(argument, str) and _LITERAL.fullmatch(argument.strip()) is not None and not Path(argument).exists()
    )


def read_puzzles(path: str | Path) -> ReadResult:
    """Read a puzzle file in any supported form; `"-"` reads standard input (named `<stdin>` in messages),
    and a puzzle typed in place of a file name (`is_puzzle_literal`) is read as itself (named `<puzzle>`).

    Raises InputError (file set, line where it applies) when the file as a whole cannot be used.
    """
    if is_puzzle_literal(path):
        return parse_text(str(path).strip() + "\n", LITERAL_NAME)
    if str(path) == "-":
        name = STDIN_NAME
        stream = getattr(sys.stdin, "buffer", None)
        content: bytes | str = stream.read() if stream is not None else sys.stdin.read()
    else:
        name = str(path)
        content = _read_file(Path(path), name)
    text = content if isinstance(content, str) else _decode(content, name)
    return parse_text(text, name)


def _read_file(path: Path, name: str) -> bytes:
    if path.is_dir():
        raise InputError("is a directory, not a puzzle file", name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", name) from None
    except PermissionError:
        raise InputError("cannot read the file: permission denied", name) from None
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror or error}", name) from None


def _decode(data: bytes, name: str) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputError("binary data (a NUL byte), not puzzle text", name, line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[error.start]:02x})", name, line) from None


def parse_text(text: str, file: str = "<string>") -> ReadResult:
    """Parse puzzle text in any supported form; `file` names it in messages. Same contract as read_puzzles."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")  # not splitlines(): form feeds and the like must not shift line numbers
    significant = [(number, raw) for number, raw in enumerate(lines, 1) if (s := raw.strip()) and s[0] != "#"]
    if not significant:
        what = "the file is empty" if not text.strip() else "only blank and comment lines"
        raise InputError(f"no puzzles found: {what}", file)
    form = _detect_form(significant)
    if form == "csv":
        entries, errors = _parse_csv(significant, file)
    elif form == "grid":
        entries, errors = _parse_grid_form(lines, file)
    else:
        entries, errors = _parse_line_form(significant, file)
    puzzles, bad = _build(entries, file)
    errors = sorted(errors + bad, key=lambda e: e.line or 0)
    return ReadResult(puzzles, errors)


def _detect_form(significant: list[tuple[int, str]]) -> str:
    """Choose how to read a file from its non-blank, non-comment lines.

    1. CSV when the first such line is a header: every comma-separated field is a short name starting
       with a letter and at least one holds a letter other than x (so a puzzle line, made of digits and
       blank marks, is never taken for one), or the line is a lone question column name (a one-column CSV).
    2. Otherwise count the cell characters of each line (everything but whitespace, commas and the
       separators `| + - =`). A line with 27 or more is a whole puzzle (with or without its answer), a
       shorter one or a separator line belongs to a grid. Grid form when grid lines outnumber whole-puzzle
       lines, line form otherwise. Counting by majority keeps the choice right when a few lines are
       malformed: a truncated line in a line-form file is still reported as a short puzzle, and a row with
       an extra cell in a grid file as a bad grid row.
    """
    first = significant[0][1].strip()
    if _is_csv_header(first):
        return "csv"
    whole = rows = 0
    for _, raw in significant[:_DETECTION_SAMPLE]:
        if len(raw.strip().translate(_NOT_A_CELL)) >= _LONG_LINE:
            whole += 1
        else:
            rows += 1
    return "grid" if rows > whole else "line"


def _is_csv_header(line: str) -> bool:
    fields = [f.strip().strip('"').strip() for f in line.split(",")]
    if len(fields) == 1:
        return fields[0].lower() in QUESTION_COLUMNS
    if not all(f == "" or _HEADER_FIELD.fullmatch(f) for f in fields):
        return False
    return any(re.search(r"[A-WYZa-wyz]", f) for f in fields)


@dataclass
class _Entries:
    """Puzzles found by a form parser, not yet converted or checked: parallel lists, one item a puzzle."""

    lines: list[int] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)  # the source line, to turn a position into a column
    questions: list[str] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    sources: list[str | None] = field(default_factory=list)
    ratings: list[int | None] = field(default_factory=list)

    def add(self, line: int, raw: str, question: str, answer=None, source=None, rating=None) -> None:
        self.lines.append(line)
        self.raws.append(raw)
        self.questions.append(question)
        self.answers.append(answer)
        self.sources.append(source)
        self.ratings.append(rating)


def _parse_line_form(significant: list[tuple[int, str]], file: str) -> tuple[_Entries, list[InputError]]:
    entries, errors = _Entries(), []
    for number, raw in significant:
        text = raw.strip()
        if " " in text or "," in text or "\t" in text:
            fields = [f for f in _FIELD_SPLIT.split(text) if f]
        else:
            fields = [text]
        if len(fields) > 2:
            errors.append(
                InputError(
                    f"expected an 81-cell puzzle, optionally followed by its answer; "
                    f"found {len(fields)} fields separated by spaces or commas",
                    file,
                    number,
                )
            )
            continue
        entries.add(number, raw, fields[0], fields[1] if len(fields) == 2 else None)
    return entries, errors


def _parse_grid_form(lines: list[str], file: str) -> tuple[_Entries, list[InputError]]:
    """Grids of 9 rows; a grid ends after its 9th row or at a blank line, separator lines are skipped."""
    entries, errors = _Entries(), []
    rows: list[str] = []
    start = 0
    bad = False  # the open grid already has a reported problem: its other rows are skipped quietly

    def close() -> None:
        nonlocal rows, bad
        if rows and not bad:
            if len(rows) == 9:
                entries.add(start, "", "".join(rows))
            else:
                noun = "row" if len(rows) == 1 else "rows"
                errors.append(InputError(f"grid has {len(rows)} {noun}, expected 9", file, start))
        rows, bad = [], False

    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text:
            close()
            continue
        if text.startswith("#") or _is_separator(text):
            continue
        if not rows:
            start = number
        cells, problem = _grid_row(raw)
        if problem and not bad:
            errors.append(InputError(problem, file, number))
            bad = True
        rows.append(cells)
        if len(rows) == 9:
            close()
    close()
    return entries, errors


def _is_separator(text: str) -> bool:
    marks = "".join(text.split())
    return set(marks) <= _SEPARATOR_CHARS and ("-" in marks or "=" in marks)


def _grid_row(raw: str) -> tuple[str, str | None]:
    """The row's cells as a string of digits and blanks, and its first problem, if any."""
    cells = []
    for column, char in enumerate(raw, 1):
        if char.isspace() or char == "|":
            continue
        if char not in _CELL_VALUE:
            return "", f"illegal character {char!r} at column {column}"
        cells.append(char)
    if len(cells) != 9:
        return "", f"grid row has {len(cells)} cells, expected 9"
    return "".join(cells), None


def _parse_csv(significant: list[tuple[int, str]], file: str) -> tuple[_Entries, list[InputError]]:
    header_line, header = significant[0]
    names = [f.strip().strip('"').strip().lower() for f in header.split(",")]

    def column(candidates: Sequence[str]) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    question, answer, source, rating = (
        column(QUESTION_COLUMNS),
        column(ANSWER_COLUMNS),
        column(("source",)),
        column(("rating",)),
    )
    if question is None:
        raise InputError(
            f"CSV header has no question column (expected one of {', '.join(QUESTION_COLUMNS)}; "
            f"found {', '.join(n or '(empty)' for n in names)})",
            file,
            header_line,
        )
    if len(significant) == 1:
        raise InputError("no puzzles found: the CSV has a header and no rows", file, header_line)
    width = len(names)
    entries, errors = _Entries(), []
    for number, raw in significant[1:]:
        text = raw.strip()
        fields = next(csv.reader([text])) if '"' in text else text.split(",")
        if len(fields) != width:
            errors.append(InputError(f"expected {width} fields as in the header, found {len(fields)}", file, number))
            continue
        rating_value = None
        if rating is not None and (rating_text := fields[rating].strip()):
            try:
                rating_value = int(rating_text)
            except ValueError:
                errors.append(InputError(f"rating {rating_text!r} is not an integer", file, number))
                continue
        answer_text = fields[answer].strip() if answer is not None else ""
        source_text = fields[source].strip() if source is not None else ""
        entries.add(number, raw, fields[question].strip(), answer_text or None, source_text or None, rating_value)
    return entries, errors


# --------------------------------------------------------------------------------- conversion and checks


def _to_cells(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 81) uint8 cells and an (N,) mask of the texts that are exactly 81 legal cell characters."""
    cells = np.zeros((len(texts), CELLS), dtype=np.uint8)
    ok = np.fromiter((len(t) == CELLS for t in texts), dtype=bool, count=len(texts))
    rows = np.flatnonzero(ok)
    if rows.size:
        # "replace" turns each non-ASCII character into one "?" (illegal), so lengths stay 81 bytes a row.
        joined = "".join([texts[i] for i in rows]).encode("ascii", "replace")
        values = _CELL_CODES[np.frombuffer(joined, dtype=np.uint8).reshape(-1, CELLS)]
        legal = (values != _ILLEGAL).all(axis=1)
        cells[rows] = np.where(values == _ILLEGAL, 0, values)
        ok[rows] = legal
    return cells, ok


def _text_problem(text: str, raw: str) -> str:
    """Why `text` (found in source line `raw`) is not 81 legal cell characters."""
    for position, char in enumerate(text):
        if char not in _CELL_VALUE:
            offset = raw.find(text)
            where = f" at column {offset + position + 1}" if offset >= 0 else f" at position {position + 1}"
            return f"illegal character {char!r}{where}"
    return f"expected {CELLS} cells, found {len(text)}"


def _conflict_problem(cells: np.ndarray) -> str:
    conflicts = find_conflicts(cells)
    return f"conflicting givens: {conflicts[0]}{_more(len(conflicts) - 1, 'conflict')}"


def _answer_problem(question: np.ndarray, answer: np.ndarray) -> str:
    changed = changed_givens(question, answer)
    if changed:
        cell = changed[0]
        more = _more(len(changed) - 1, "changed given")
        return f"answer changes given {cell_name(cell)} ({question[cell]} -> {answer[cell]}){more}"
    problems = answer_problems(question, answer)
    return f"answer is not a valid solution: {problems[0]}{_more(len(problems) - 1, 'problem')}"


def _more(count: int, noun: str) -> str:
    return f"; {count} more {noun}{'s' if count > 1 else ''}" if count > 0 else ""


def _build(entries: _Entries, file: str) -> tuple[list[Puzzle], list[InputError]]:
    """Convert and check every entry at once with numpy; only bad entries take the slow, per-puzzle path."""
    count = len(entries.questions)
    problems: dict[int, str] = {}
    questions, ok = _to_cells(entries.questions)
    for i in np.flatnonzero(~ok):
        problems[int(i)] = _text_problem(entries.questions[i], entries.raws[i])
    for i in np.flatnonzero(ok & has_conflicts(questions)):
        problems[int(i)] = _conflict_problem(questions[i])

    answered = [i for i in range(count) if entries.answers[i] is not None and i not in problems]
    answers = np.zeros((count, CELLS), dtype=np.uint8)
    if answered:
        index = np.array(answered)
        cells, readable = _to_cells([entries.answers[i] for i in answered])
        answers[index] = cells
        for i in index[~readable]:
            problems[int(i)] = "answer: " + _text_problem(entries.answers[i], entries.raws[i])
        checked = index[readable]
        for i in checked[~valid_solutions(questions[checked], answers[checked])]:
            problems[int(i)] = _answer_problem(questions[i], answers[i])

    puzzles = [
        Puzzle(
            questions[i],
            answers[i] if entries.answers[i] is not None else None,
            file,
            entries.lines[i],
            entries.sources[i],
            entries.ratings[i],
        )
        for i in range(count)
        if i not in problems
    ]
    errors = [InputError(problem, file, entries.lines[i]) for i, problem in problems.items()]
    return puzzles, errors


def parse_grid_string(text: str, *, check_conflicts: bool = True) -> np.ndarray:
    """One puzzle written as 81 cell characters (surrounding whitespace ignored) -> uint8[81].

    Raises InputError with no file or line (the caller may fill them in) when the text is not 81 legal
    cells or, unless `check_conflicts` is False, when its givens repeat a digit within a unit.
    """
    value = text.strip()
    cells, ok = _to_cells([value])
    if not ok[0]:
        raise InputError(_text_problem(value, text))
    if check_conflicts and has_conflicts(cells)[0]:
        raise InputError(_conflict_problem(cells[0]))
    return cells[0]


# ---------------------------------------------------------------------------------------------- writing


def _checked_grid(grid) -> np.ndarray:
    cells = np.asarray(grid)
    if cells.size != CELLS:
        raise ValueError(f"a grid has {CELLS} cells, got {cells.size}")
    cells = cells.reshape(CELLS)
    if cells.dtype.kind not in "iu" or cells.min() < 0 or cells.max() > 9:
        raise ValueError("grid cells must be integers 0..9")
    return cells.astype(np.uint8)


def format_line(grid, blank: str = ".") -> str:
    """The grid as 81 characters, digits and `blank` for empty cells."""
    if len(blank) != 1 or blank not in BLANK_CHARS:
        raise ValueError(f"blank must be one of {' '.join(BLANK_CHARS)}, got {blank!r}")
    text = (_checked_grid(grid) + ord("0")).tobytes().decode("ascii")
    return text if blank == "0" else text.replace("0", blank)


def format_grid(grid) -> str:
    """The grid as 13 lines (9 rows and 4 borders) for a terminal; read_puzzles reads it back."""
    line = format_line(grid)
    border = "+-------+-------+-------+"
    out = [border]
    for row in range(9):
        cells = line[row * 9 : row * 9 + 9]
        out.append("| " + " | ".join(" ".join(cells[band * 3 : band * 3 + 3]) for band in range(3)) + " |")
        if row % 3 == 2:
            out.append(border)
    return "\n".join(out)


def write_puzzles(
    target: str | Path | IO[str],
    grids: Iterable,
    answers: Iterable | None = None,
    fmt: str = "line",
) -> int:
    """Write puzzles in one of FORMATS to a path (`"-"` is standard output) or an open text stream.

    `grids` is an (N, 81) array, a sequence of grids, or a sequence of Puzzle (whose answers, sources and
    ratings are then written too, unless `answers` is given). `answers` may hold None for puzzles without one.
    Line form writes `puzzle answer` when there is an answer; CSV writes the columns of
    `source,question,answer,rating` that have any value; grid form has no place for answers and refuses
    them. Returns the number of puzzles written. Raises ValueError on a bad format or grid.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    items = list(grids)
    sources: list[str | None] = [None] * len(items)
    ratings: list[int | None] = [None] * len(items)
    if items and all(isinstance(item, Puzzle) for item in items):
        if answers is None:
            answers = [p.answer for p in items]
        sources = [p.source for p in items]
        ratings = [p.rating for p in items]
        items = [p.grid for p in items]
    answer_list = list(answers) if answers is not None else [None] * len(items)
    if len(answer_list) != len(items):
        raise ValueError(f"{len(items)} grids but {len(answer_list)} answers")
    questions = [format_line(g) for g in items]
    solutions = [None if a is None else format_line(a) for a in answer_list]

    if fmt == "line":
        text = "".join(f"{q}\n" if a is None else f"{q} {a}\n" for q, a in zip(questions, solutions))
    elif fmt == "grid":
        if any(a is not None for a in solutions):
            raise ValueError("grid form has no place for answers: write them as 'line' or 'csv'")
        text = "\n\n".join(format_grid(g) for g in items) + ("\n" if items else "")
    else:
        columns = [
            ("source", sources, any(s is not None for s in sources)),
            ("question", questions, True),
            ("answer", solutions, any(a is not None for a in solutions)),
            ("rating", ratings, any(r is not None for r in ratings)),
        ]
        kept = [(name, values) for name, values, present in columns if present]
        rows = [",".join(name for name, _ in kept)]
        for i in range(len(items)):
            rows.append(",".join(_csv_field(values[i]) for _, values in kept))
        text = "\n".join(rows) + "\n"

    if isinstance(target, (str, Path)):
        if str(target) == "-":
            sys.stdout.write(text)
        else:
            Path(target).write_text(text, encoding="utf-8")
    else:
        target.write(text)
    return len(items)


def _csv_field(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"a CSV field cannot span lines: {text!r}")
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text
