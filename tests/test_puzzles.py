"""Puzzle I/O: every input form, every blank notation, round trips, and every error with its file:line: cause."""

import csv
import io
import sys
from pathlib import Path

import numpy as np
import pytest

from sudoku_trm.errors import InputError
from sudoku_trm.sudoku.grid import answer_problems, find_conflicts
from sudoku_trm.sudoku.puzzles import (
    Puzzle,
    ReadResult,
    format_grid,
    format_line,
    parse_grid_string,
    parse_text,
    read_puzzles,
    write_puzzles,
)

ROOT = Path(__file__).resolve().parent.parent
PUZZLES = ROOT / "puzzles"

# Two puzzles of unbiased_1k.csv with their solutions.
P1 = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2...."
A1 = "123675948456982371789314562964157283517238496832496157271849635395761824648523719"
P2 = ".2.6.978..5.....9.7.9.5.34..71..8.....4.......6..2.....3...1...9....7.2.......16."
A2 = "123649785456873291789152346271938654594716832368524917632481579915367428847295163"


def digits(text: str) -> np.ndarray:
    return np.array([0 if c == "." else int(c) for c in text], dtype=np.uint8)


def messages(result: ReadResult) -> list[str]:
    return [str(e) for e in result.errors]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------- line form


def test_line_form_reads_values_lines_and_skips_comments(tmp_path):
    path = write(tmp_path, "two.txt", f"# a comment\n\n   {P1}   \n  # indented comment\n{P2}\n\n")
    result = read_puzzles(path)
    assert result.errors == []
    assert [p.line for p in result.puzzles] == [3, 5]
    assert all(p.file == str(path) for p in result.puzzles)
    first, second = result.puzzles
    assert first.grid.dtype == np.uint8 and first.grid.shape == (81,)
    assert np.array_equal(first.grid, digits(P1)) and np.array_equal(second.grid, digits(P2))
    assert first.grid[2] == 3 and first.grid[4] == 7 and first.grid[0] == 0
    assert first.answer is None and first.source is None and first.rating is None
    assert np.array_equal(result.grids(), np.stack([digits(P1), digits(P2)]))


@pytest.mark.parametrize("blank", [".", "0", "_", "*", "x", "X"])
def test_every_blank_notation_reads_as_zero(blank):
    result = parse_text(P1.replace(".", blank) + "\n")
    (puzzle,) = result.puzzles
    assert np.array_equal(puzzle.grid, digits(P1))


def test_mixed_blank_notations_in_one_line():
    marks = ".0_*xX"
    mixed = "".join(marks[i % 6] if c == "." else c for i, c in enumerate(P1))
    assert np.array_equal(parse_text(mixed).puzzles[0].grid, digits(P1))


@pytest.mark.parametrize("separator", [" ", "\t", ",", " , "])
def test_a_line_may_carry_its_answer(separator):
    result = parse_text(f"{P1}{separator}{A1}\n{P2}\n")
    assert result.errors == []
    with_answer, without = result.puzzles
    assert np.array_equal(with_answer.answer, digits(A1))
    assert without.answer is None


def test_crlf_line_endings_and_bom():
    result = parse_text("\ufeff# header\r\n" + P1 + "\r\n" + P2 + "\r\n")
    assert [p.line for p in result.puzzles] == [2, 3]
    assert result.errors == []


# ------------------------------------------------------------------------------------------- grid form


def rows_of(puzzle: str) -> list[str]:
    return [puzzle[r * 9 : r * 9 + 9] for r in range(9)]


def test_boxed_grids_with_separators():
    spaced = [" ".join(row[:3]) + " | " + " ".join(row[3:6]) + " | " + " ".join(row[6:]) for row in rows_of(P1)]
    text = "\n".join(
        ["------+-------+------", *spaced[:3], "------+-------+------", *spaced[3:6], "------+-------+------"]
        + [*spaced[6:], "------+-------+------", "", format_grid(digits(P2)), ""]
    )
    result = parse_text(text, "boxed.txt")
    assert result.errors == []
    assert [p.line for p in result.puzzles] == [2, 16]  # a grid starts at its first row, not its border
    assert np.array_equal(result.puzzles[0].grid, digits(P1))
    assert np.array_equal(result.puzzles[1].grid, digits(P2))


def test_sdk_grid_with_header_lines_and_grids_back_to_back():
    text = "#A Some Author\n#D a description\n#C a comment\n" + "\n".join(rows_of(P1) + rows_of(P2)) + "\n"
    result = parse_text(text, "two.sdk")
    assert result.errors == []
    assert [p.line for p in result.puzzles] == [4, 13]
    assert np.array_equal(result.puzzles[0].grid, digits(P1))
    assert np.array_equal(result.puzzles[1].grid, digits(P2))


def test_grid_rows_with_zero_blanks_and_spaces():
    text = "\n".join(" ".join(row.replace(".", "0")) for row in rows_of(P2)) + "\n"
    assert np.array_equal(parse_text(text).puzzles[0].grid, digits(P2))


# ------------------------------------------------------------------------------------------------- CSV


def test_sudoku_extreme_csv(tmp_path):
    path = write(tmp_path, "set.csv", f"source,question,answer,rating\nunbiased,{P1},{A1},2\nmine,{P2},{A2},0\n")
    result = read_puzzles(path)
    assert result.errors == []
    first, second = result.puzzles
    assert (first.line, first.source, first.rating) == (2, "unbiased", 2)
    assert (second.line, second.source, second.rating) == (3, "mine", 0)
    assert np.array_equal(first.grid, digits(P1)) and np.array_equal(first.answer, digits(A1))
    assert np.array_equal(second.answer, digits(A2))


def test_kaggle_csv_with_zero_blanks_in_any_column_order():
    zeros = P1.replace(".", "0")
    for text in (f"quizzes,solutions\n{zeros},{A1}\n", f"solutions,quizzes\n{A1},{zeros}\n"):
        (puzzle,) = parse_text(text, "kaggle.csv").puzzles
        assert np.array_equal(puzzle.grid, digits(P1)) and np.array_equal(puzzle.answer, digits(A1))
        assert puzzle.source is None and puzzle.rating is None


def test_csv_other_columns_ignored_answer_optional_and_quotes_accepted():
    text = f'rating,id,question\n7,a,{P1}\n,b,"{P2}"\n'
    first, second = parse_text(text, "q.csv").puzzles
    assert first.rating == 7 and first.answer is None
    assert second.rating is None and np.array_equal(second.grid, digits(P2))


def test_one_column_csv_and_empty_answer_field():
    (only,) = parse_text(f"question\n{P1}\n").puzzles
    assert np.array_equal(only.grid, digits(P1))
    (blank_answer,) = parse_text(f"question,answer\n{P1},\n").puzzles
    assert blank_answer.answer is None


# ----------------------------------------------------------------------------------------------- stdin


def test_stdin_text_stream(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{P1}\n{P1[:80]}\n"))
    result = read_puzzles("-")
    assert [p.file for p in result.puzzles] == ["<stdin>"]
    assert np.array_equal(result.puzzles[0].grid, digits(P1))
    assert messages(result) == ["<stdin>:2: expected 81 cells, found 80"]


def test_stdin_binary_buffer(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"question\n{P2}\n".encode())))
    (puzzle,) = read_puzzles("-").puzzles
    assert puzzle.file == "<stdin>" and puzzle.line == 2
    assert np.array_equal(puzzle.grid, digits(P2))


def test_stdin_binary_junk_is_a_file_error(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00junk")))
    with pytest.raises(InputError) as caught:
        read_puzzles("-")
    assert caught.value.file == "<stdin>"


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("fmt", ["line", "grid", "csv"])
def test_write_then_read_gives_the_same_grids(tmp_path, fmt):
    grids = np.stack([digits(P1), digits(P2)])
    path = tmp_path / f"out.{fmt}"
    assert write_puzzles(path, grids, fmt=fmt) == 2
    result = read_puzzles(path)
    assert result.errors == []
    assert np.array_equal(result.grids(), grids)
    assert all(p.answer is None for p in result.puzzles)


@pytest.mark.parametrize("fmt", ["line", "csv"])
def test_answers_round_trip(tmp_path, fmt):
    path = tmp_path / "out.txt"
    write_puzzles(path, [digits(P1), digits(P2)], answers=[digits(A1), None], fmt=fmt)
    first, second = read_puzzles(path).puzzles
    assert np.array_equal(first.answer, digits(A1)) and second.answer is None


def test_csv_round_trip_keeps_sources_and_ratings_of_puzzles(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(f'source,question,answer,rating\nforum,{P1},{A1},12\n"a, b",{P2},{A2},3\n')
    puzzles = read_puzzles(source).puzzles
    out = io.StringIO()
    write_puzzles(out, puzzles, fmt="csv")
    assert out.getvalue().splitlines()[0] == "source,question,answer,rating"
    back = parse_text(out.getvalue(), "back.csv").puzzles
    assert [(p.source, p.rating) for p in back] == [("forum", 12), ("a, b", 3)]
    assert np.array_equal(back[1].answer, digits(A2))


def test_puzzle_objects_write_their_own_answers():
    puzzles = [Puzzle(digits(P1), digits(A1), "f", 1), Puzzle(digits(P2), None, "f", 2, rating=5)]
    out = io.StringIO()
    assert write_puzzles(out, puzzles) == 2
    assert out.getvalue() == f"{P1} {A1}\n{P2}\n"


def test_format_line_and_grid():
    grid = digits(P1)
    assert format_line(grid) == P1
    assert format_line(grid, blank="0") == P1.replace(".", "0")
    pretty = format_grid(grid)
    lines = pretty.splitlines()
    assert len(lines) == 13
    assert lines[0] == lines[4] == lines[8] == lines[12] == "+-------+-------+-------+"
    assert lines[1] == "| . . 3 | . 7 . | . 4 . |"
    assert np.array_equal(parse_text(pretty).puzzles[0].grid, grid)


def test_writers_refuse_bad_input(tmp_path):
    with pytest.raises(ValueError, match="81 cells"):
        format_line(np.zeros(80, dtype=np.uint8))
    with pytest.raises(ValueError, match="0..9"):
        format_line(np.full(81, 10))
    with pytest.raises(ValueError, match="blank"):
        format_line(digits(P1), blank="1")
    with pytest.raises(ValueError, match="format"):
        write_puzzles(tmp_path / "x", [digits(P1)], fmt="json")
    with pytest.raises(ValueError, match="answers"):
        write_puzzles(tmp_path / "x", [digits(P1)], answers=[digits(A1)], fmt="grid")


def test_write_to_stdout(capsys):
    write_puzzles("-", [digits(P1)])
    assert capsys.readouterr().out == P1 + "\n"


# ------------------------------------------------------------------------------------------ line errors


def check_one_error(text: str, expected: str, good_lines: list[int], name: str = "bad.txt") -> ReadResult:
    """The file yields exactly one error, `name:expected`, and the good puzzles on `good_lines`."""
    result = parse_text(text, name)
    assert messages(result) == [f"{name}:{expected}"]
    assert [p.line for p in result.puzzles] == good_lines
    return result


def test_wrong_length_names_the_count():
    check_one_error(f"{P1}\n{P1[:80]}\n{P2}\n", "2: expected 81 cells, found 80", [1, 3])
    check_one_error(f"{P1}\n{P2}\n{P2}9\n", "3: expected 81 cells, found 82", [1, 2])


def test_illegal_character_names_it_and_its_column():
    bad = P1[:10] + "a" + P1[11:]
    check_one_error(f"{P1}\n   {bad}\n{P2}\n", "2: illegal character 'a' at column 14", [1, 3])
    check_one_error(f"{P2}\n{P1[:40]}é{P1[41:]}\n", "2: illegal character 'é' at column 41", [1])


def test_repeated_digit_names_the_unit_and_cells():
    twin_fives = "55" + P1[2:]
    result = check_one_error(
        f"{P1}\n{twin_fives}\n{P2}\n",
        f"2: conflicting givens: {find_conflicts(digits(twin_fives))[0]}; 2 more conflicts",
        [1, 3],
    )
    assert "r1c1, r1c2" in messages(result)[0] and "row 1" in messages(result)[0]


def test_answer_that_changes_a_given_names_the_cell():
    changed = A1[:2] + "5" + A1[3:]  # P1 gives r1c3 = 3
    check_one_error(f"{P1} {changed}\n{P2} {A2}\n", "1: answer changes given r1c3 (3 -> 5)", [2])


def test_answer_that_is_not_a_valid_grid():
    broken = A1[:80] + "1"  # r9c9 is a blank in P1, so no given changes, but row 9 now has two 1s
    problems = answer_problems(digits(P1), digits(broken))
    expected = f"answer is not a valid solution: {problems[0]}; {len(problems) - 1} more problems"
    result = check_one_error(f"{P2}\n{P1},{broken}\n", f"2: {expected}", [1])
    assert "r9c9" in messages(result)[0]
    holes = "." + A1[1:]
    result = check_one_error(
        f"{P2}\n{P1},{holes}\n",
        "2: answer is not a valid solution: " + answer_problems(digits(P1), digits(holes))[0],
        [1],
    )
    assert "r1c1" in messages(result)[0] and "blank" in messages(result)[0]


def test_answer_with_bad_cells():
    check_one_error(f"{P1} {A1[:79]}\n{P2}\n", "1: answer: expected 81 cells, found 79", [2])
    check_one_error(f"{P1} {A1[:80]}?\n{P2}\n", "1: answer: illegal character '?' at column 163", [2])


def test_too_many_fields_on_a_line():
    check_one_error(
        f"{P1} {A1} extra\n{P2}\n",
        "1: expected an 81-cell puzzle, optionally followed by its answer; "
        "found 3 fields separated by spaces or commas",
        [2],
    )


def test_every_bad_line_is_reported_in_order():
    text = "\n".join([P1[:80], P1, "55" + P1[2:], P2, "hello", P1 + " " + A1[::-1]]) + "\n"
    result = parse_text(text, "many.txt")
    assert [e.line for e in result.errors] == [1, 3, 5, 6]
    assert all(e.file == "many.txt" for e in result.errors)
    assert [p.line for p in result.puzzles] == [2, 4]


def test_a_short_line_in_a_line_file_is_not_taken_for_a_grid():
    check_one_error(f"{P1}\n{P1[:12]}\n{P2}\n", "2: expected 81 cells, found 12", [1, 3])
    check_one_error(f"{P1}\n{P1[:12]}\n", "2: expected 81 cells, found 12", [1])  # a tie reads as lines


# ------------------------------------------------------------------------------------------ grid errors


def test_grid_row_with_wrong_cell_count_names_its_line():
    rows = rows_of(P1)
    rows[4] = rows[4][:8]
    text = "\n".join(rows) + "\n\n" + "\n".join(rows_of(P2)) + "\n"
    result = check_one_error(text, "5: grid row has 8 cells, expected 9", [11], "g.sdk")
    assert np.array_equal(result.puzzles[0].grid, digits(P2))


def test_grid_with_missing_rows_names_its_first_line():
    text = "#D two grids\n" + "\n".join(rows_of(P1)[:8]) + "\n\n" + format_grid(digits(P2)) + "\n"
    check_one_error(text, "2: grid has 8 rows, expected 9", [12], "g.txt")


def test_grid_row_with_illegal_character():
    rows = [" ".join(row) for row in rows_of(P1)]
    rows[0] = rows[0][:4] + "?" + rows[0][5:]
    check_one_error(
        "\n".join(rows) + "\n\n" + "\n".join(rows_of(P2)) + "\n", "1: illegal character '?' at column 5", [11], "g.txt"
    )


def test_grid_with_repeated_digit_names_the_grid_line():
    twin = "55" + P1[2:]
    text = "\n".join(rows_of(P2)) + "\n\n" + "\n".join(rows_of(twin)) + "\n"
    check_one_error(text, f"11: conflicting givens: {find_conflicts(digits(twin))[0]}; 2 more conflicts", [1])


# ------------------------------------------------------------------------------------------- CSV errors


def test_csv_row_with_wrong_field_count():
    text = f"source,question,answer,rating\nx,{P1},{A1},1\nx,{P2},{A2}\nx,{P2},{A2},2\n"
    check_one_error(text, "3: expected 4 fields as in the header, found 3", [2, 4], "s.csv")


def test_csv_non_integer_rating():
    text = f"question,rating\n{P1},2.5\n{P2},4\n"
    result = check_one_error(text, "2: rating '2.5' is not an integer", [3], "s.csv")
    assert result.puzzles[0].rating == 4


def test_csv_cell_errors_name_the_column_in_the_line():
    text = f"source,question\nabc,{P1[:5]}#{P1[6:]}\nabc,{P2}\n"
    check_one_error(text, "2: illegal character '#' at column 10", [3], "s.csv")


def test_csv_answer_contradicting_its_question():
    changed = A1[:2] + "9" + A1[3:]
    text = f"question,answer\n{P1},{changed}\n{P2},{A2}\n"
    check_one_error(text, "2: answer changes given r1c3 (3 -> 9)", [3], "s.csv")


def test_csv_header_without_question_column_is_a_file_error():
    with pytest.raises(InputError) as caught:
        parse_text(f"# comment\nsource,answer,rating\nx,{A1},1\n", "s.csv")
    assert (caught.value.file, caught.value.line) == ("s.csv", 2)
    assert "no question column" in caught.value.message and "source, answer, rating" in caught.value.message


def test_csv_header_without_rows_is_a_file_error():
    with pytest.raises(InputError, match="header and no rows"):
        parse_text("question,answer\n\n", "s.csv")


# ------------------------------------------------------------------------------------------ file errors


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as caught:
        read_puzzles(tmp_path / "absent.txt")
    assert str(caught.value) == f"{tmp_path / 'absent.txt'}: no such file"


def test_directory(tmp_path):
    with pytest.raises(InputError) as caught:
        read_puzzles(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a puzzle file"


def test_binary_junk(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as caught:
        read_puzzles(path)
    assert caught.value.file == str(path) and "binary" in caught.value.message


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(f"{P1}\n{P2}\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        read_puzzles(path)
    assert str(caught.value) == f"{path}:3: not UTF-8 text (byte 0xe9)"


@pytest.mark.parametrize(
    ("content", "cause"), [("", "the file is empty"), ("\n  \n", "the file is empty"), ("# only\n\n#x\n", "only blank")]
)
def test_nothing_to_read(tmp_path, content, cause):
    path = write(tmp_path, "empty.txt", content)
    with pytest.raises(InputError, match=cause) as caught:
        read_puzzles(path)
    assert caught.value.file == str(path) and caught.value.line is None


def test_a_file_of_only_bad_lines_returns_the_errors():
    result = parse_text(f"{P1[:80]}\n{P1[:79]}\n", "bad.txt")
    assert result.puzzles == [] and [e.line for e in result.errors] == [1, 2]


# ------------------------------------------------------------------------------------- parse_grid_string


def test_parse_grid_string():
    assert np.array_equal(parse_grid_string(f"  {P1.replace('.', '0')}\n"), digits(P1))
    with pytest.raises(InputError) as caught:
        parse_grid_string(P1[:80])
    assert (caught.value.file, caught.value.line, caught.value.message) == (None, None, "expected 81 cells, found 80")
    with pytest.raises(InputError, match="illegal character 'z' at column 3"):
        parse_grid_string("12z" + P1[3:])
    with pytest.raises(InputError, match="conflicting givens"):
        parse_grid_string("55" + P1[2:])
    assert parse_grid_string("55" + P1[2:], check_conflicts=False)[:2].tolist() == [5, 5]


# ----------------------------------------------------------------------------------------------- speed


def test_a_large_csv_is_read_in_whole_array_steps(tmp_path, shared_sample, monkeypatch):
    """Speed without a stopwatch: 20,000 good rows are converted and checked by a fixed number of numpy
    calls over all of them, and none of the per-puzzle calls that only bad rows take."""
    import sudoku_trm.sudoku.puzzles as puzzles_module

    rows = (shared_sample / "hard_train.csv").read_text().splitlines()
    path = write(tmp_path, "big.csv", "\n".join([rows[0]] + rows[1:] * 200) + "\n")  # 20,000 puzzles
    calls: list[tuple[str, int]] = []  # (function, length of its first argument)

    def spy(name: str) -> None:
        function = getattr(puzzles_module, name)

        def wrapper(*args, **kwargs):
            calls.append((name, len(args[0])))
            return function(*args, **kwargs)

        monkeypatch.setattr(puzzles_module, name, wrapper)

    for name in (
        "_to_cells",
        "has_conflicts",
        "valid_solutions",  # whole-array steps
        "_text_problem",
        "_conflict_problem",
        "_answer_problem",  # per bad puzzle
        "find_conflicts",
        "answer_problems",
        "changed_givens",
    ):
        spy(name)

    result = read_puzzles(path)
    assert len(result.puzzles) == 20_000 and result.errors == []
    listed = [line.split(",") for line in rows[1:]]
    first_line = 20_000 - len(listed) + 2  # of the last copy (the header is line 1)
    assert [(format_line(p.grid), format_line(p.answer), p.line) for p in result.puzzles[-len(listed) :]] == [
        (r[1], r[2], first_line + i) for i, r in enumerate(listed)
    ]
    assert sorted(calls) == [
        ("_to_cells", 20_000),
        ("_to_cells", 20_000),
        ("has_conflicts", 20_000),
        ("valid_solutions", 20_000),
    ]


# ---------------------------------------------------------------------------------- the puzzles/ folder


def shared_rows(shared_sample: Path) -> dict[str, dict]:
    rows = {}
    for name in ("unbiased_1k.csv", "clue17.csv", "hard_train.csv"):
        with open(shared_sample / name, newline="") as handle:
            for row in csv.DictReader(handle):
                rows[row["question"]] = {**row, "file": name}
    return rows


# file -> (puzzles, the shared files they come from, lowest rating, highest rating)
SAMPLE_FILES = {
    "easy.txt": (6, {"unbiased_1k.csv"}, 0, 0),
    "medium.txt": (6, {"unbiased_1k.csv"}, 1, 10),
    "hard.txt": (6, {"unbiased_1k.csv", "clue17.csv"}, 20, None),
    "very_hard.txt": (6, {"hard_train.csv"}, 500, None),
    "very_hard.sdk": (1, {"hard_train.csv"}, 500, None),
    "grids.txt": (3, {"unbiased_1k.csv", "clue17.csv"}, 0, None),
    "samples.csv": (8, {"unbiased_1k.csv", "clue17.csv", "hard_train.csv"}, 0, None),
}


def test_the_sample_folder_holds_what_the_readme_lists():
    files = {p.name for p in PUZZLES.iterdir()}
    assert files == set(SAMPLE_FILES) | {"mixed_with_errors.txt", "named.txt", "easter_monster.sdk", "README.md"}
    readme = (PUZZLES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in files - {"README.md"})


@pytest.mark.parametrize("name", sorted(SAMPLE_FILES))
def test_sample_files_parse_cleanly_and_come_from_the_shared_data(name, shared_sample):
    count, sources, low, high = SAMPLE_FILES[name]
    result = read_puzzles(PUZZLES / name)
    assert result.errors == []
    assert len(result.puzzles) == count
    known = shared_rows(shared_sample)
    for puzzle in result.puzzles:
        row = known.get(format_line(puzzle.grid))
        assert row is not None, f"{name}:{puzzle.line} is not in the shared data sample"
        assert row["file"] in sources
        rating = int(row["rating"])
        assert rating >= low and (high is None or rating <= high), f"{name}:{puzzle.line} has rating {rating}"


def test_samples_csv_answers_ratings_and_sources_match_the_shared_data(shared_sample):
    known = shared_rows(shared_sample)
    puzzles = read_puzzles(PUZZLES / "samples.csv").puzzles
    assert {known[format_line(p.grid)]["file"] for p in puzzles} == {"unbiased_1k.csv", "clue17.csv", "hard_train.csv"}
    for puzzle in puzzles:
        row = known[format_line(puzzle.grid)]
        assert puzzle.answer is not None and format_line(puzzle.answer) == row["answer"]
        assert puzzle.rating == int(row["rating"]) and puzzle.source == row["source"]


def test_line_file_comments_name_each_puzzles_origin(shared_sample):
    """Where each puzzle comes from, and its guesses on our own scale (`sudoku-trm check`), not the source's."""
    from sudoku_trm.sudoku import solver

    known = shared_rows(shared_sample)
    lines = (PUZZLES / "very_hard.txt").read_text().splitlines()
    for puzzle in read_puzzles(PUZZLES / "very_hard.txt").puzzles:
        comment = lines[puzzle.line - 2]
        row = known[format_line(puzzle.grid)]
        assert comment.startswith(f"# {row['file']} line ")
        assert comment.endswith(f"; sudoku-trm check: {solver.rate(puzzle.grid)} guesses")


def test_named_puzzles_are_unique_and_the_sdk_copy_matches(shared_sample):
    from sudoku_trm.sudoku import solver

    named = read_puzzles(PUZZLES / "named.txt")
    assert named.errors == [] and len(named.puzzles) == 3
    assert all(solver.count_solutions(p.grid) == 1 for p in named.puzzles)
    (sdk,) = read_puzzles(PUZZLES / "easter_monster.sdk").puzzles
    assert np.array_equal(sdk.grid, named.puzzles[0].grid)
    assert not any(format_line(p.grid) in shared_rows(shared_sample) for p in named.puzzles)


def test_mixed_file_reports_exactly_the_planted_errors(shared_sample):
    path = PUZZLES / "mixed_with_errors.txt"
    result = read_puzzles(path)
    assert [(e.line, e.message.split(":")[0].split(" (")[0]) for e in result.errors] == [
        (6, "expected 81 cells, found 80"),
        (9, "illegal character 'o' at column 1"),
        (11, "conflicting givens"),
        (14, "answer changes given r1c2"),
    ]
    assert "row 1 has" in result.errors[2].message and "r1c1, r1c4" in result.errors[2].message
    assert str(result.errors[3]) == f"{path}:14: answer changes given r1c2 (2 -> 1)"
    assert [p.line for p in result.puzzles] == [4, 7, 12, 15]
    known = shared_rows(shared_sample)
    assert all(format_line(p.grid) in known for p in result.puzzles)


# -- a puzzle typed where a file name goes ------------------------------------------------------------

TYPED = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
TYPED_ANSWER = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


def test_a_typed_puzzle_is_read_as_itself_and_named_so():
    from sudoku_trm.sudoku.puzzles import is_puzzle_literal, read_puzzles

    result = read_puzzles(TYPED)
    assert len(result.puzzles) == 1 and not result.errors and result.puzzles[0].file == "<puzzle>"
    assert "".join(map(str, result.puzzles[0].grid)) == TYPED.replace(".", "0")
    assert not is_puzzle_literal("puzzles.txt") and not is_puzzle_literal("123")


def test_a_typed_puzzle_of_80_cells_gets_the_parsers_line_not_no_such_file():
    from sudoku_trm.sudoku.puzzles import read_puzzles

    result = read_puzzles(TYPED[:80])
    assert [str(e) for e in result.errors] == ["<puzzle>:1: expected 81 cells, found 80"]


def test_an_existing_file_wins_over_a_puzzle_shaped_name(tmp_path, monkeypatch):
    from sudoku_trm.sudoku.puzzles import read_puzzles

    monkeypatch.chdir(tmp_path)
    (tmp_path / TYPED).write_text(TYPED_ANSWER[:80] + ".\n")
    assert read_puzzles(TYPED).puzzles[0].file == TYPED


@pytest.mark.parametrize("command", ["check", "solve", "eval"])
def test_every_command_that_reads_puzzles_takes_one_typed(command, solver_weights):
    import json

    from typer.testing import CliRunner

    from sudoku_trm.cli.app import app

    model = [] if command == "check" else ["--weights", str(solver_weights), "--effort", "search"]
    result = CliRunner().invoke(app, [command, TYPED, *model, "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    if command == "eval":
        assert record["total"]["puzzles"] == 1 and record["files"][0]["puzzles"] == 1
    else:
        assert TYPED_ANSWER in json.dumps(record)
