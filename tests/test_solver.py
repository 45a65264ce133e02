"""The exact solver against the committed data samples and hand-made edge cases."""

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

from sudoku_trm.sudoku import kernels, solver
from sudoku_trm.sudoku.grid import CELLS, find_conflicts, valid_solutions

CSV_SAMPLES = ["hard_train.csv", "hard_dev.csv", "clue17.csv", "unbiased_1k.csv"]
HARD_SAMPLES = ["hard_train.csv", "hard_dev.csv"]


def _grid(text: str) -> np.ndarray:
    return (np.frombuffer(text.replace(".", "0").encode(), dtype=np.uint8) - ord("0")).astype(np.uint8)


def _load_csv(path) -> tuple[np.ndarray, np.ndarray]:
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    return np.stack([_grid(row[1]) for row in rows]), np.stack([_grid(row[2]) for row in rows])


def _load_multi(path) -> np.ndarray:
    return np.stack([_grid(line.strip()) for line in path.read_text().splitlines() if line.strip()])


def _other_solution(puzzle: np.ndarray, first: np.ndarray) -> np.ndarray | None:
    """A solution differing from `first`, found independently of the solver's search order: one blank cell at a
    time, fix a digit other than first's there and solve."""
    for cell in np.flatnonzero(puzzle == 0):
        for digit in range(1, 10):
            if digit == first[cell]:
                continue
            trial = puzzle.copy()
            trial[cell] = digit
            solution = solver.solve(trial)
            if solution is not None:
                return solution
    return None


@pytest.mark.parametrize("name", CSV_SAMPLES)
def test_every_sample_puzzle_has_its_listed_answer_and_no_other(shared_sample, name):
    questions, answers = _load_csv(shared_sample / name)
    for question, answer in zip(questions, answers):
        analysis = solver.analyse(question)
        assert analysis.count == 1 and analysis.unique
        np.testing.assert_array_equal(analysis.solution, answer)


def test_multi_solution_puzzles_have_two_distinct_valid_solutions(shared_sample):
    puzzles = _load_multi(shared_sample / "multi_solution_200.txt")
    assert len(puzzles) == 200
    for puzzle in puzzles:
        analysis = solver.analyse(puzzle, limit=2)
        assert analysis.count == 2 and analysis.solvable and not analysis.unique
        second = _other_solution(puzzle, analysis.solution)
        assert second is not None
        assert not np.array_equal(second, analysis.solution)
        assert valid_solutions(np.stack([puzzle, puzzle]), np.stack([analysis.solution, second])).all()


@pytest.mark.parametrize("where", [(0, 8), (0, 72), (0, 20)], ids=["row", "column", "box"])
def test_conflicting_givens_have_no_solution(where):
    puzzle = np.zeros(CELLS, dtype=np.uint8)
    puzzle[list(where)] = 5
    assert find_conflicts(puzzle)
    analysis = solver.analyse(puzzle)
    assert (analysis.count, analysis.guesses, analysis.solution) == (0, 0, None)


def test_conflict_free_puzzle_without_solution():
    puzzle = np.zeros((9, 9), dtype=np.uint8)
    puzzle[0, 1:5] = [1, 2, 3, 4]  # r1c1 sees 1..4 in its row,
    puzzle[1:5, 0] = [5, 6, 7, 8]  # 5..8 in its column
    puzzle[2, 2] = 9  # and 9 in its box
    assert not find_conflicts(puzzle)
    analysis = solver.analyse(puzzle)
    assert analysis.count == 0 and analysis.solution is None and not analysis.solvable


def test_unsolvable_puzzle_that_needs_search(shared_sample):
    """A valid puzzle with one given changed to a digit that fits locally but not globally."""
    questions, answers = _load_csv(shared_sample / "hard_dev.csv")
    question, answer = questions[0], answers[0]
    for cell in np.flatnonzero(question == 0):
        for digit in range(1, 10):
            trial = question.copy()
            trial[cell] = digit
            if digit != answer[cell] and not find_conflicts(trial):
                # The puzzle's only solution has answer[cell] there, so this has none.
                assert solver.count_solutions(trial) == 0
                return
    pytest.fail("no locally consistent wrong digit found")


def test_solved_grid_returns_itself(shared_sample):
    _, answers = _load_csv(shared_sample / "unbiased_1k.csv")
    analysis = solver.analyse(answers[0])
    assert (analysis.count, analysis.guesses) == (1, 0)
    np.testing.assert_array_equal(analysis.solution, answers[0])


def test_empty_grid_has_as_many_solutions_as_the_limit():
    empty = np.zeros(CELLS, dtype=np.uint8)
    for limit in (1, 2, 5):
        assert solver.count_solutions(empty, limit=limit) == limit
    solution = solver.solve(empty)
    assert valid_solutions(empty, solution).all()


def test_removing_a_given_keeps_the_old_answer_and_counts_consistently(shared_sample):
    """Whatever the reduced puzzle is, its solutions split by the freed cell's digit: the old answer's digit gives
    exactly the old solution, each other digit gives its own count."""
    questions, answers = _load_csv(shared_sample / "unbiased_1k.csv")
    for question, answer in zip(questions[:10], answers[:10]):
        cell = np.flatnonzero(question)[0]
        reduced = question.copy()
        reduced[cell] = 0
        analysis = solver.analyse(reduced)
        assert valid_solutions(reduced, analysis.solution).all()
        by_digit = 1
        for digit in set(range(1, 10)) - {int(answer[cell])}:
            trial = reduced.copy()
            trial[cell] = digit
            by_digit += solver.count_solutions(trial)
        assert analysis.count == min(by_digit, 2)
        if analysis.unique:
            np.testing.assert_array_equal(analysis.solution, answer)


def test_batch_agrees_with_single_analysis(shared_sample):
    questions, _ = _load_csv(shared_sample / "hard_dev.csv")
    multi = _load_multi(shared_sample / "multi_solution_200.txt")[:20]
    conflicting = np.zeros((1, CELLS), dtype=np.uint8)
    conflicting[0, :2] = 3
    grids = np.concatenate([questions[:30], multi, conflicting, np.zeros((1, CELLS), dtype=np.uint8)])
    for limit in (1, 2, 3):
        solutions, counts, guesses = solver.analyse_batch(grids, limit=limit)
        assert solutions.shape == grids.shape and solutions.dtype == np.uint8
        for grid, solution, count, guess_count in zip(grids, solutions, counts, guesses):
            analysis = solver.analyse(grid, limit=limit)
            assert (count, guess_count) == (analysis.count, analysis.guesses)
            expected = analysis.solution if analysis.solvable else np.zeros(CELLS, dtype=np.uint8)
            np.testing.assert_array_equal(solution, expected)
    assert solver.analyse_batch(grids.reshape(-1, 9, 9))[1].tolist() == counts.clip(max=2).tolist()


def test_rate_is_zero_without_search_and_positive_for_hard_puzzles(shared_sample):
    easy, _ = _load_csv(shared_sample / "unbiased_1k.csv")
    easy_ratings = [solver.rate(q) for q in easy]
    assert 0 in easy_ratings  # random minimal puzzles: many need no guess at all
    for name in HARD_SAMPLES:
        hard, _ = _load_csv(shared_sample / name)
        hard_ratings = [solver.rate(q) for q in hard]
        assert min(hard_ratings) > 0
        assert np.mean(hard_ratings) > 5 * max(np.mean(easy_ratings), 1)
        first_only = solver.analyse(hard[0], limit=1).guesses
        assert 0 < first_only <= hard_ratings[0]


def test_accepts_lists_and_9x9_grids(shared_sample):
    questions, answers = _load_csv(shared_sample / "clue17.csv")
    as_list = questions[0].astype(int).tolist()
    np.testing.assert_array_equal(solver.solve(as_list), answers[0])
    np.testing.assert_array_equal(solver.solve(questions[0].reshape(9, 9)), answers[0])


@pytest.mark.parametrize(
    "grid, message",
    [
        (np.full(CELLS, 10), "r1c1 holds 10"),
        (np.r_[np.zeros(80, int), -1], "r9c9 holds -1"),
        (np.zeros(80, int), "shape"),
        (np.zeros(CELLS, float), "integers"),
    ],
)
def test_bad_input_is_a_clear_value_error(grid, message):
    with pytest.raises(ValueError, match=message):
        solver.analyse(grid)


def test_bad_batch_input_names_the_puzzle():
    grids = np.zeros((3, CELLS), dtype=np.int64)
    grids[2, 4] = 12
    with pytest.raises(ValueError, match="puzzle 2, r1c5 holds 12"):
        solver.analyse_batch(grids)
    with pytest.raises(ValueError, match="limit"):
        solver.analyse(np.zeros(CELLS, int), limit=0)


def test_plain_python_kernels_agree_with_compiled(shared_sample):
    questions, _ = _load_csv(shared_sample / "unbiased_1k.csv")
    multi = _load_multi(shared_sample / "multi_solution_200.txt")
    conflicting = np.zeros(CELLS, dtype=np.uint8)
    conflicting[[0, 80]] = 7, 7
    conflicting[[1, 10]] = 4, 4
    cases = [questions[0], questions[1], multi[0], conflicting]
    kernels.compile_all()
    compiled = [solver.analyse(grid) for grid in cases]
    assert isinstance(solver._analyse, CPUDispatcher)
    with kernels.plain(work=10**6):
        assert not isinstance(solver._analyse, CPUDispatcher)
        plain = [solver.analyse(grid) for grid in cases]
    assert isinstance(solver._analyse, CPUDispatcher)  # the compiled kernels are back
    for got, expected in zip(plain, compiled):
        assert (got.count, got.guesses) == (expected.count, expected.guesses)
        if expected.solvable:
            np.testing.assert_array_equal(got.solution, expected.solution)


# -- a digit order: which digit a branch tries first -------------------------------------------------------------


def _oracle(questions: np.ndarray, answers: np.ndarray) -> np.ndarray:
    order = np.zeros((len(questions), CELLS, 9))
    order[np.arange(len(questions))[:, None], np.arange(CELLS)[None], answers - 1] = 1.0
    return order


def test_equal_scores_are_the_plain_order(shared_sample):
    from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

    hard = load_puzzle_set(shared_sample / "hard_dev.csv")
    plain = solver.analyse_batch(hard.questions, 1)
    flat = solver.analyse_batch(hard.questions, 1, np.full((len(hard), CELLS, 9), 0.3))
    assert all(np.array_equal(a, b) for a, b in zip(plain, flat))


def test_the_solutions_digit_first_finds_it_with_fewer_guesses_and_never_changes_the_count(shared_sample):
    from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

    hard = load_puzzle_set(shared_sample / "hard_dev.csv")
    order = _oracle(hard.questions, hard.answers)
    _, _, plain = solver.analyse_batch(hard.questions, 1)
    found, counts, guided = solver.analyse_batch(hard.questions, 1, order)
    assert np.array_equal(found, hard.answers) and (counts == 1).all()
    assert (guided <= plain).all() and guided.sum() < plain.sum() / 3
    # Proving uniqueness visits every branch whatever the order: the count stays, the guesses barely move.
    _, counts_two, _ = solver.analyse_batch(hard.questions, 2, order)
    assert (counts_two == 1).all()
    one = solver.analyse(hard.questions[0], 1, order[0])
    assert one.guesses == guided[0] and np.array_equal(one.solution, hard.answers[0])


def test_the_order_decides_which_of_several_solutions_comes_first():
    empty = np.zeros(CELLS, dtype=np.uint8)
    order = np.zeros((CELLS, 9))
    order[0, 8] = 1.0  # r1c1: a 9 first
    order[1, 6] = 1.0  # r1c2: a 7 first
    found = solver.analyse(empty, 1, order).solution
    assert found is not None and found[0] == 9 and found[1] == 7
    assert solver.analyse(empty, 1).solution[0] == 1  # plain: the lowest digit


def test_an_order_of_the_wrong_shape_is_a_value_error():
    with pytest.raises(ValueError, match="9 scores per cell"):
        solver.analyse(np.zeros(CELLS, dtype=np.uint8), 1, np.zeros((CELLS, 10)))


# -- propagate: the logic the search applies before each guess ----------------------------------------------


@pytest.mark.parametrize("name", HARD_SAMPLES)
def test_propagate_places_what_logic_places_and_keeps_the_solution_possible(shared_sample, name):
    from sudoku_trm.sudoku.logic import logic_rounds

    puzzles, answers = _load_csv(shared_sample / name)
    rounds, solved, stall = logic_rounds(puzzles)
    for puzzle, answer, cell_rounds, last in zip(puzzles, answers, rounds, stall):
        pushed = solver.propagate(puzzle)
        assert pushed is not None
        grid, candidates = pushed
        placed = cell_rounds <= last  # the givens and every cell logic's rounds place
        assert ((grid > 0) == placed).all() and (grid[placed] == answer[placed]).all()
        assert candidates[np.arange(CELLS), answer - 1].all()  # the solution's digit is never struck
        assert (candidates.sum(1)[placed] == 1).all() and (candidates.sum(1)[~placed] >= 2).all()


def test_propagate_solves_what_logic_solves_and_refuses_a_contradiction():
    easy = _grid("..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2....")
    grid, candidates = solver.propagate(easy)
    assert valid_solutions(easy[None], grid[None])[0] and (candidates.sum(1) == 1).all()
    clash = easy.copy()
    clash[0], clash[1] = 5, 5  # two 5s in row 1
    assert solver.propagate(clash) is None


def test_branch_cell_is_where_the_exact_search_guesses_first(shared_sample):
    """A blank cell of fewest candidates, and the exact search's own first branch: with the solution's digit
    placed there before the search starts, the search needs fewer guesses than from the puzzle itself; -1 once
    nothing is blank."""
    puzzles, answers = _load_csv(shared_sample / "hard_dev.csv")
    for puzzle, answer in zip(puzzles[:5], answers[:5]):
        grid, candidates = solver.propagate(puzzle)
        cell = solver.branch_cell(grid, candidates)
        assert grid[cell] == 0
        assert candidates[cell].sum() == candidates[grid == 0].sum(axis=1).min()
        # The search tries the cell's digits lowest first: when that is the solution's, its guesses are that one
        # and the subtree's (the search from the node with it placed); else each wrong digit before costs one more.
        given = grid.copy()
        given[cell] = answer[cell]
        lowest = int(np.flatnonzero(candidates[cell])[0]) + 1
        before = solver.analyse(puzzle, limit=1).guesses
        after = solver.analyse(given, limit=1).guesses
        assert before == after + 1 if lowest == answer[cell] else before >= after + 2
    assert solver.branch_cell(*solver.propagate(answers[0])) == -1
