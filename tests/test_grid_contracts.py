"""Contracts of the Sudoku rule checks and the verdict that mutation testing found unpinned: cell names, the
exact wording and order of every problem, the edge digits 1 and 9, blanks, shapes and the solver's count."""

import numpy as np
import pytest

from sudoku_trm.sudoku.grid import (
    Conflict,
    answer_problems,
    cell_name,
    changed_givens,
    find_conflicts,
    has_conflicts,
    is_valid_solution,
    valid_solutions,
)
from sudoku_trm.sudoku.verdict import judge

P1 = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2...."
A1 = "123675948456982371789314562964157283517238496832496157271849635395761824648523719"
SEVERAL = "8.........95.......76.........426798...571243...893165......916....3.487....1.532"  # two solutions at least


def digits(text: str) -> np.ndarray:
    return np.array([0 if c == "." else int(c) for c in text], dtype=np.uint8)


def swapped(grid: np.ndarray, a: int, b: int) -> np.ndarray:
    out = grid.copy()
    out[[a, b]] = out[[b, a]]
    return out


# -- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "name"), [(0, "r1c1"), (8, "r1c9"), (9, "r2c1"), (10, "r2c2"), (40, "r5c5"), (72, "r9c1"), (80, "r9c9")]
)
def test_cells_are_named_row_then_column_from_one(cell, name):
    assert cell_name(cell) == name


@pytest.mark.parametrize(
    ("cells", "text"),
    [
        ((0, 8), "row 1 has two 7s (r1c1, r1c9)"),
        ((0, 8, 4), "row 1 has three 7s (r1c1, r1c9, r1c5)"),
        ((0, 1, 2, 3), "row 1 has four 7s (r1c1, r1c2, r1c3, r1c4)"),
        ((0, 1, 2, 3, 4), "row 1 has 5 7s (r1c1, r1c2, r1c3, r1c4, r1c5)"),
    ],
)
def test_a_conflict_reads_its_unit_count_digit_and_cells(cells, text):
    assert str(Conflict("row 1", 7, cells)) == text


# -- find_conflicts and has_conflicts --------------------------------------------------------------------


def test_find_conflicts_names_every_repeat_in_unit_order_and_ignores_blanks():
    """Rows, then columns, then boxes, digits ascending within a unit; the many blanks never conflict."""
    grid = np.zeros(81, dtype=np.uint8)
    grid[[0, 4]] = 1  # row 1: two 1s (r1c1, r1c5), in different boxes and columns
    grid[[70, 80]] = 9  # box 9 only: two 9s (r8c8, r9c9)
    grid[[2, 20]] = 5  # column 3 and box 1: two 5s (r1c3, r3c3)
    grid[[30, 31, 40]] = 3  # box 5: three 3s; row 4 two of them
    conflicts = find_conflicts(grid.reshape(9, 9))
    assert [str(c) for c in conflicts] == [
        "row 1 has two 1s (r1c1, r1c5)",
        "row 4 has two 3s (r4c4, r4c5)",
        "column 3 has two 5s (r1c3, r3c3)",
        "column 5 has two 3s (r4c5, r5c5)",
        "box 1 has two 5s (r1c3, r3c3)",
        "box 5 has three 3s (r4c4, r4c5, r5c5)",
        "box 9 has two 9s (r8c8, r9c9)",
    ]
    assert all(type(c.digit) is int and all(type(x) is int for x in c.cells) for c in conflicts)
    assert not find_conflicts(np.zeros(81, dtype=np.uint8)) and not find_conflicts(digits(A1))


@pytest.mark.parametrize("digit", [1, 9])
def test_has_conflicts_sees_a_repeat_of_the_edge_digits(digit):
    grid = np.zeros(81, dtype=np.uint8)
    grid[[0, 80]] = digit  # no shared unit: fine
    assert has_conflicts(grid).tolist() == [False]
    grid[40] = digit
    grid[41] = digit  # row 5 and box 5
    assert has_conflicts(grid).tolist() == [True]


def test_has_conflicts_ignores_blanks_and_takes_any_batch_shape():
    """Blanks are no digit: an empty grid has no conflict, nor has a grid with one digit of each kind."""
    one_of_each = np.zeros(81, dtype=np.uint8)
    one_of_each[:9] = np.arange(1, 10)
    grids = np.stack([np.zeros(81, np.uint8), one_of_each, digits(A1), swapped(digits(A1), 0, 1)])
    assert has_conflicts(grids.reshape(4, 9, 9)).tolist() == [False, False, False, True]
    assert has_conflicts(grids.astype(np.int64)).tolist() == [False, False, False, True]
    assert has_conflicts(digits(A1)).shape == (1,)


# -- answers against their puzzle ------------------------------------------------------------------------


def test_changed_givens_lists_only_givens_the_answer_does_not_keep():
    puzzle, answer = digits(P1), digits(A1).copy()
    assert changed_givens(puzzle, answer) == []
    answer[[2, 4, 0]] = [9, 0, 5]  # r1c3 given 3 changed, r1c5 given 7 blanked, r1c1 was blank in the puzzle
    changed = changed_givens(puzzle.reshape(9, 9), answer.reshape(9, 9))
    assert changed == [2, 4] and all(type(c) is int for c in changed)


def test_answer_problems_say_blanks_then_changed_givens_then_conflicts():
    puzzle, answer = digits(P1), digits(A1).copy()
    assert answer_problems(puzzle, answer) == [] and is_valid_solution(puzzle, answer)
    answer[[1, 5, 80]] = 0  # three blanks, the first r1c2
    answer[2] = 4  # the given 3 at r1c3 becomes a 4: row 1, column 3 and box 1 now repeat a 4
    assert answer_problems(puzzle.reshape(9, 9), answer.reshape(9, 9)) == [
        "3 cells left blank (first r1c2)",
        "given r1c3=3 changed to 4",
        "row 1 has two 4s (r1c3, r1c8)",
        "column 3 has two 4s (r1c3, r4c3)",
        "box 1 has two 4s (r1c3, r2c1)",
    ]
    assert not is_valid_solution(puzzle, answer)


def test_one_blank_is_a_problem_by_itself():
    answer = digits(A1).copy()
    answer[80] = 0
    assert answer_problems(np.zeros(81, np.uint8), answer) == ["1 cells left blank (first r9c9)"]


def test_valid_solutions_checks_givens_blanks_and_every_unit_per_puzzle():
    puzzle, solution = digits(P1), digits(A1)
    blank = solution.copy()
    blank[0] = 0
    changed = solution.copy()
    changed[2] = 4  # a given changed (and rows broken)
    relabelled = np.where(solution == 1, 2, np.where(solution == 2, 1, solution)).astype(np.uint8)  # keeps rules
    column_swap = solution.reshape(9, 9)[:, [1, 0, 2, 3, 4, 5, 6, 7, 8]].ravel()  # rows, columns ok, r1c3 kept
    answers = np.stack([solution, blank, changed, relabelled, column_swap, solution])
    puzzles = np.stack([puzzle, puzzle, puzzle, np.zeros(81, np.uint8), np.zeros(81, np.uint8), puzzle])
    valid = valid_solutions(puzzles.reshape(6, 9, 9), answers.reshape(6, 9, 9))
    assert valid.dtype == bool and valid.tolist() == [True, False, False, True, True, True]
    assert valid.tolist() == [is_valid_solution(p, a) for p, a in zip(puzzles, answers)]
    assert valid_solutions(puzzle, solution).tolist() == [True]
    assert valid_solutions(puzzle, relabelled).tolist() == [False]  # relabelling changes the givens


def test_valid_solutions_refuses_each_kind_of_broken_unit():
    """A grid whose rows all hold 1..9 but not its columns, and one whose rows and columns do but not its boxes."""
    rows_only = np.tile(np.arange(1, 10, dtype=np.uint8), 9)
    latin = np.array([(r + c) % 9 + 1 for r in range(9) for c in range(9)], dtype=np.uint8)  # no box holds 1..9
    blank = np.zeros((2, 81), np.uint8)
    assert valid_solutions(blank, np.stack([rows_only, latin])).tolist() == [False, False]
    assert has_conflicts(np.stack([rows_only, latin])).tolist() == [True, True]


# -- the verdict -----------------------------------------------------------------------------------------


def test_a_right_answer_is_valid_and_correct():
    verdict = judge(digits(P1), digits(A1))
    assert verdict.valid and verdict.problems == () and verdict.conflict_cells == frozenset()
    assert verdict.solutions == 1 and verdict.correct is True and verdict.wrong_cells == 0
    assert verdict.summary == "valid solution"


def test_a_wrong_answer_names_its_problems_cells_and_how_far_it_is_from_the_solution():
    puzzle, answer = digits(P1), digits(A1).copy()
    answer[[0, 1]] = answer[[1, 0]]  # r1c1 and r1c2 (blanks in the puzzle) swapped: columns 1 and 2 repeat
    answer[3] = 0
    verdict = judge(puzzle, answer)
    assert not verdict.valid and verdict.correct is False and verdict.wrong_cells == 3
    assert verdict.problems == (
        "1 cells left blank (first r1c4)",
        "column 1 has two 2s (r1c1, r7c1)",
        "column 2 has two 1s (r1c2, r5c2)",
    )
    assert verdict.conflict_cells == frozenset({0, 54, 1, 37})
    assert verdict.summary == (
        "breaks the rules: 1 cells left blank (first r1c4); column 1 has two 2s (r1c1, r7c1) (+1 more); "
        "3 cells differ from the solution"
    )


def test_a_summary_of_two_problems_adds_no_count_and_a_right_grid_no_difference():
    puzzle = digits(P1)
    answer = digits(A1).copy()
    answer[[5, 6]] = 0
    verdict = judge(puzzle, answer)
    assert verdict.wrong_cells == 2 and verdict.summary == (
        "breaks the rules: 2 cells left blank (first r1c6); 2 cells differ from the solution"
    )
    given = judge(puzzle, answer, solutions=1, solution=answer)  # told the blanked grid is the solution
    assert given.correct is True and given.wrong_cells == 0
    assert given.summary == "breaks the rules: 2 cells left blank (first r1c6)"


def test_a_puzzle_with_several_solutions_has_no_single_right_answer():
    puzzle = digits(SEVERAL)
    verdict = judge(puzzle.astype(np.int64), digits(A1))
    assert verdict.solutions == 2 and verdict.correct is None and verdict.wrong_cells is None
    assert not verdict.valid
    empty = judge(np.zeros(81, np.uint8), digits(A1))
    assert empty.valid and empty.solutions == 2 and empty.summary == "valid solution (one of several)"


def test_a_given_count_skips_the_solver_and_one_without_a_solution_is_not_judged_correct():
    puzzle = digits(P1)
    told = judge(puzzle, digits(A1), solutions=2)
    assert told.solutions == 2 and told.correct is None and told.wrong_cells is None and told.valid
    unknown = judge(puzzle, digits(A1), solutions=1, solution=None)
    assert unknown.correct is None and unknown.wrong_cells is None


def test_an_unsolvable_puzzle_counts_no_solutions():
    puzzle = digits(P1).copy()
    puzzle[0] = 3  # r1c1 3 repeats the given 3 at r1c3
    verdict = judge(puzzle, digits(A1))
    assert verdict.solutions == 0 and verdict.correct is None and not verdict.valid
