"""What `solve` draws, piece by piece (cli/render.py): every cell's digit and style, every status line, caption,
summary and sheet, against expectations written out here from the rules in render.py's docstring, so that a
wrong colour, a miscounted cell or a dropped word is a failing test rather than a user's puzzlement."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console
from rich.text import Text

from sudoku_trm.cli import render
from sudoku_trm.cli.render import ANSWER, CHANGED, CONFLICT, GIVEN, UNSURE, Frame, Solved, Timing
from sudoku_trm.inference.engine import Solutions
from sudoku_trm.inference.found import EXACT_SOLVER, GUIDED_SEARCH, MODEL_ALONE
from sudoku_trm.sudoku.puzzles import Puzzle
from sudoku_trm.sudoku.verdict import judge

SOLUTION = np.array(
    [int(c) for c in "534678912672195348198342567859761423426853791713924856961537284287419635345286179"],
    dtype=np.uint8,
)


def _puzzle(blanks: list[int]) -> np.ndarray:
    puzzle = SOLUTION.copy()
    puzzle[blanks] = 0
    return puzzle


def _digit_offset(cell: int, plain: bool = False) -> int:
    """Where cell's digit is in the text: a border line, then each row line, a separator line before rows 3 and 6."""
    row, col = divmod(cell, 9)
    width = 32 if plain else 26  # one line and its newline
    line = 1 + row + (row >= 3) + (row >= 6)
    if plain:  # "│" then three characters a cell, "│" after each box
        return line * width + 1 + 3 * col + col // 3 + 1
    return line * width + 2 + 2 * col + 2 * (col // 3)  # "│ 5 3 4 │ ..."


def _style_at(text: Text, offset: int) -> str:
    """The style a character is drawn in: its innermost span's, else the whole text's."""
    styles = [str(span.style) for span in text.spans if span.start <= offset < span.end]
    return styles[-1] if styles else str(text.style)


def _expected_grid(values: np.ndarray, puzzle: np.ndarray, plain: bool) -> str:
    lines = []
    for row in range(9):
        if plain:
            boxes = [
                "".join(
                    f"[{values[row * 9 + c]}]" if puzzle[row * 9 + c] else f" {values[row * 9 + c] or '·'} "
                    for c in range(box * 3, box * 3 + 3)
                )
                for box in range(3)
            ]
            lines.append("│" + "│".join(boxes) + "│")
        else:
            boxes = [" ".join(str(values[row * 9 + c] or "·") for c in range(box * 3, box * 3 + 3)) for box in range(3)]
            lines.append("│ " + " │ ".join(boxes) + " │")
        if row in (2, 5):
            lines.append(("├─────────┼─────────┼─────────┤" if plain else "├───────┼───────┼───────┤"))
    top = "┌─────────┬─────────┬─────────┐" if plain else "┌───────┬───────┬───────┐"
    bottom = "└─────────┴─────────┴─────────┘" if plain else "└───────┴───────┴───────┘"
    return "\n".join([top, *lines, bottom])


# -- the grid ---------------------------------------------------------------------------------------------


def test_every_cell_of_a_grid_shows_its_digit_in_the_style_its_state_gives():
    blanks = [1, 2, 10, 20, 40, 41, 44, 70, 80]
    puzzle = _puzzle(blanks)
    answer = puzzle.copy()
    answer[[1, 2, 10, 40, 41, 44, 70]] = SOLUTION[[1, 2, 10, 40, 41, 44, 70]]  # cells 20 and 80 stay blank
    previous = puzzle.copy()
    previous[[1, 10]] = SOLUTION[[1, 10]]  # so 2, 40, 41, 44 and 70 changed since the last frame
    confidence = np.ones(81, dtype=np.float32)
    confidence[[1, 40]] = 0.2  # unsure, but 40 changed: the change shows
    conflicts = frozenset({44, 0})  # a conflict outranks a change, and a given

    text = render.grid_text(puzzle, answer, confidence, previous, conflicts)

    assert text.plain == _expected_grid(answer, puzzle, plain=False)
    expected = {0: CONFLICT, 44: CONFLICT, 2: CHANGED, 40: CHANGED, 41: CHANGED, 70: CHANGED, 1: UNSURE}
    for cell in range(81):
        want = expected.get(cell, GIVEN if puzzle[cell] else ANSWER)
        assert _style_at(text, _digit_offset(cell)) == want, f"cell {cell}"
    # A marked (background) cell is its digit alone: the space before it is unstyled.
    assert _style_at(text, _digit_offset(44) - 1) == ""
    # Runs of one style are one span: no two touching spans share a style.
    spans = sorted(text.spans, key=lambda s: s.start)
    assert all(not (a.end == b.start and a.style == b.style) for a, b in zip(spans, spans[1:]))


def test_without_a_previous_frame_or_confidences_nothing_is_changed_or_unsure():
    puzzle = _puzzle([3, 4, 5])
    answer = SOLUTION.copy()
    text = render.grid_text(puzzle, answer)
    assert [_style_at(text, _digit_offset(c)) for c in (3, 4, 5)] == [ANSWER] * 3
    assert _style_at(text, _digit_offset(0)) == GIVEN
    assert render.grid_text(puzzle).plain == _expected_grid(puzzle, puzzle, plain=False)  # the puzzle itself


def test_a_plain_grid_brackets_the_givens_and_carries_no_style_meaning():
    puzzle = _puzzle([0, 8, 40, 80])
    answer = puzzle.copy()
    answer[40] = SOLUTION[40]
    text = render.grid_text(puzzle, answer, plain=True)
    assert text.plain == _expected_grid(answer, puzzle, plain=True)
    assert text.plain[_digit_offset(40, plain=True)] == str(SOLUTION[40])
    assert text.plain[_digit_offset(1, plain=True) - 1 : _digit_offset(1, plain=True) + 2] == f"[{SOLUTION[1]}]"


def test_runs_join_neighbours_of_one_style_and_drop_empty_pieces():
    pieces = [("a", "x"), ("b", "x"), ("", "y"), ("c", ""), ("d", ""), ("e", "x")]
    assert render._runs(pieces) == [("ab", "x"), ("cd", ""), ("e", "x")]
    assert render._runs([]) == []


def test_changed_cells_and_their_description():
    before, after = SOLUTION.copy(), SOLUTION.copy()
    after[[0, 80]] = 0
    assert render.changed_cells(before, after) == [0, 80]
    assert render.changed_cells(None, after) == []
    cells = list(range(8))
    assert render.describe_cells(cells[:6]) == "r1c1, r1c2, r1c3, r1c4, r1c5, r1c6"
    assert render.describe_cells(cells) == "r1c1, r1c2, r1c3, r1c4, r1c5, r1c6 (+2)"
    assert render.describe_cells(cells, shown=2) == "r1c1, r1c2 (+6)"


def test_unsure_counts_blank_cells_below_one_half_only():
    puzzle = _puzzle([0, 1, 2])
    confidence = np.ones(81, dtype=np.float32)
    confidence[[0, 1, 5]] = [0.49, 0.5, 0.1]  # 5 is a given: never unsure
    assert render.unsure_count(puzzle, confidence) == 1


@pytest.mark.parametrize(
    "halts, stops, fixed, said",
    [
        (False, False, False, "continue"),
        (True, True, False, "halt"),
        (False, True, False, "step limit"),
        (True, False, False, "continue"),
        (True, False, True, "halt ignored (--steps)"),
        (False, False, True, "continue"),
        (False, True, True, "done (--steps)"),
    ],
)
def test_the_decision_after_a_step(halts, stops, fixed, said):
    assert render.decision(halts, stops, fixed) == said


# -- frames -----------------------------------------------------------------------------------------------


def _frame(**fields) -> Frame:
    puzzle = _puzzle([0, 1, 2, 3])
    answer = SOLUTION.copy()
    previous = puzzle.copy()
    previous[[2, 3]] = SOLUTION[[2, 3]]  # 0 and 1 change
    confidence = np.ones(81, dtype=np.float32)
    confidence[[1, 3]] = 0.3
    base = dict(puzzle=puzzle, answer=answer, confidence=confidence, previous=previous, step=3, limit=16, depth=(2, 3))
    return Frame(**{**base, **fields})


def test_a_steps_status_line_says_where_the_halting_call_what_changed_and_how_many_are_unsure():
    frame = _frame(halt_probability=0.123, decision="continue")
    status = frame.status()
    assert status.plain == "step 3/16  recursion (2,3)  halt p=0.12 -> continue  changed 2: r1c1, r1c2  unsure 2"
    assert _style_at(status, status.plain.index("continue")) == "bold yellow"
    assert _style_at(status, status.plain.index("unsure")) == UNSURE
    halted = _frame(halt_probability=0.9, decision="halt", confidence=np.ones(81, dtype=np.float32)).status()
    assert halted.plain.endswith("halt p=0.90 -> halt  changed 2: r1c1, r1c2  unsure 0")
    assert _style_at(halted, halted.plain.index("-> halt") + 3) == "bold green"
    assert _style_at(halted, halted.plain.index("unsure")) == ""  # nothing unsure: not dimmed
    limit = _frame(halt_probability=0.2, decision="step limit").status()
    assert _style_at(limit, limit.plain.index("step limit")) == "bold"


def test_the_first_frame_is_the_puzzle_as_posed_with_its_blanks():
    frame = render.posed(_puzzle([0, 1, 2, 3]), 16, (2, 3), note="loading the model")
    assert frame.status().plain == "step 0/16  recursion (2,3)  the puzzle as posed, 4 blanks  loading the model"
    assert _style_at(frame.status(), frame.status().plain.index("loading")) == "italic"
    unknown = render.posed(_puzzle([0]), None, None)
    assert unknown.status().plain == "step 0  the puzzle as posed, 1 blanks"
    assert unknown.caption().plain == "step 0 as posed\n1 blanks"


def test_a_pass_a_move_a_chain_and_a_run_drawn_at_its_end_say_so():
    inside = _frame(pass_number=1, passes=3)
    assert inside.where() == "step 3/16 pass 1/3"
    assert "inside the step: no halting call yet" in inside.status().plain
    assert inside.caption().plain == "step 3/16 pass 1/3\nchanged 2, unsure 2"
    move = _frame(move="guess r1c1 = 5", chain="call 2, search depth 1")
    assert move.where() == "call 2, search depth 1"
    status = move.status()
    assert status.plain == "call 2, search depth 1  recursion (2,3)  guess r1c1 = 5  changed 2: r1c1, r1c2  unsure 2"
    assert _style_at(status, status.plain.index("guess")) == "bold magenta"
    ran = _frame(chain="call 3, search depth 2", last_of_run=True, step=5, halt_probability=0.1, decision="continue")
    assert ran.where() == "call 3, search depth 2: ran 5/16 steps"
    assert _frame(chain="call 1", last_of_run=True, step=1).where() == "call 1: ran 1/16 step"
    copy = _frame(chain="copy 3 of 8", beyond="beyond training", step=23, limit=32)
    assert copy.where() == "copy 3 of 8, step 23/32 (beyond training)"


def test_a_steps_caption_on_the_sheet():
    caption = _frame(halt_probability=0.5, decision="halt").caption()
    assert caption.plain == "step 3/16 p=0.50 halt\nchanged 2, unsure 2"
    assert _style_at(caption, caption.plain.index("halt")) == "bold green"


def test_a_frames_picture_is_title_grid_and_status():
    frame = _frame(halt_probability=0.5, decision="halt")
    group = frame.render("puzzles/x.txt:3")
    title, grid, status = group.renderables
    assert (title.plain, str(title.style)) == ("puzzles/x.txt:3", "bold")
    assert grid.plain == render.grid_text(frame.puzzle, frame.answer).plain
    assert _style_at(grid, _digit_offset(0)) == CHANGED
    assert frame.grid(plain=True).plain.startswith("┌─────────┬")
    assert status.plain == frame.status().plain


# -- a solved puzzle, the summary and the legend ------------------------------------------------------------


def _solutions(answers: np.ndarray, puzzles: np.ndarray, steps: list[int], seconds: float = 2.0, trace=None):
    n = len(answers)
    halts = np.full((n, 4), np.nan, dtype=np.float32)
    for i, count in enumerate(steps):
        halts[i, :count] = np.linspace(0.1, 0.9, count)
    return Solutions(
        puzzles=puzzles,
        answers=answers,
        confidence=np.ones((n, 81), dtype=np.float32),
        steps=np.array(steps),
        halted=np.array([halts[i, count - 1] > 0.5 for i, count in enumerate(steps)]),
        halt_probabilities=halts,
        seconds=seconds,
        trace_answers=trace,
        trace_confidence=None if trace is None else np.ones(trace.shape, dtype=np.float16),
        step_limit=4,
    )


def _results(valid: int, broken: int, steps: list[int] | None = None, seconds: float = 2.0, votes: int = 1):
    puzzle = _puzzle([0, 1, 2])
    wrong = SOLUTION.copy()
    wrong[[0, 1]] = wrong[[1, 0]]  # a row keeps its digits, a column gets two of one
    answers = np.stack([SOLUTION] * valid + [wrong] * broken)
    steps = steps or [2] * len(answers)
    solutions = _solutions(answers, np.stack([puzzle] * len(answers)), steps, seconds)
    results = [
        Solved(Puzzle(puzzle, None, "f.txt", i + 1), solutions, i, judge(puzzle, answers[i], 1, SOLUTION), votes=votes)
        for i in range(len(answers))
    ]
    return results, solutions


@pytest.mark.parametrize("valid, broken", [(3, 0), (2, 1), (1, 2), (0, 1)])
def test_the_summary_counts_every_puzzle_once(valid, broken):
    results, solutions = _results(valid, broken, seconds=0.5)
    n = valid + broken
    rate = n / 0.5
    assert render.summary(results, solutions, 1) == (
        f"{n} puzzle{'s' if n != 1 else ''}: {valid} valid, {broken} break{'s' if broken == 1 else ''} the rules; "
        f"mean 2.0 steps; 0.5 s of model work, {rate:.1f} puzzles/s"
    )


def test_the_summary_names_votes_lines_left_out_and_a_time_too_short_to_measure():
    results, solutions = _results(2, 0, steps=[1, 4], seconds=0.0, votes=3)
    line = render.summary(results, solutions, 3, left_out="2 bad lines")
    assert line == (
        "2 puzzles: 2 valid, 0 break the rules; 2 bad lines skipped; mean 2.5 steps; "
        "0.0 s of model work, inf puzzles/s (3 votes each)"
    )


def test_a_search_summary_says_who_found_each_answer_and_counts_only_the_searchs_guesses():
    results, solutions = _results(4, 1, seconds=1.0)

    class Searched:  # what summary reads of guided search's outcome
        guesses = np.array([0, 3, 4, 7, 0])
        calls = np.array([1, 2, 4, 16, 16])

    found = [MODEL_ALONE, GUIDED_SEARCH, GUIDED_SEARCH, EXACT_SOLVER, EXACT_SOLVER]
    for result, who in zip(results, found):
        result.searched, result.found_by = Searched, who
    assert render.summary(results, solutions, 1) == (
        "4 valid: 1 by the model alone, 2 by guided search with 7 guesses, 1 finished by the exact solver, "
        "1 breaks the rules; mean 7.8 model calls; 1.0 s of model work, 5.0 puzzles/s"
    )
    one = results[:2]
    assert render.search_summary(one) == "2 valid: 1 by the model alone, 1 by guided search with 3 guesses"
    results[1].found_by = GUIDED_SEARCH
    Searched.guesses = np.array([0, 1, 0, 0, 0])
    assert render.search_summary(one).endswith("with 1 guess")


def test_an_adaptive_summary_says_how_many_the_model_found_alone_in_model_steps():
    results, solutions = _results(3, 0, seconds=1.0)
    for result, who in zip(results, [MODEL_ALONE, "symmetric copy", MODEL_ALONE]):
        result.adaptive, result.found_by = object(), who
    assert render.summary(results, solutions, 1) == (
        "3 puzzles: 3 valid (2 by the model alone), 0 break the rules; mean 2.0 model steps; "
        "1.0 s of model work, 3.0 puzzles/s"
    )


def test_a_final_answer_shows_the_title_the_marked_grid_how_it_ended_and_the_verdict():
    results, _ = _results(0, 1, steps=[1])
    result = results[0]
    result.puzzle = Puzzle(result.puzzle.grid, None, "f.txt", 7, source="a book")
    title, grid, outcome, verdict = render.final_answer(result, Timing(0.151)).renderables
    assert title.plain == "f.txt:7  (a book)"
    for cell in result.verdict.conflict_cells:
        assert _style_at(grid, _digit_offset(cell)) == CONFLICT
    assert outcome.plain == "1 step (step limit reached), 151 ms"  # its one step said p=0.1
    assert verdict.plain == result.verdict.summary and verdict.plain.startswith("breaks the rules: ")
    assert _style_at(verdict, 0) == "bold red"
    assert _style_at(verdict, len("breaks the rules") + 1) == ""
    good = _results(1, 0, steps=[4])[0][0]
    good.agreeing, good.votes = 5, 8
    good_verdict = render.verdict_text(good.verdict)
    assert (good_verdict.plain, _style_at(good_verdict, 0)) == ("valid solution", "bold green")
    line = render.outcome_line(good, Timing(0.9, 6))
    assert line.plain == "4 steps (halted by the model), 150 ms (1/6 of a 0.9 s batch), 5 of 8 symmetric copies agree"
    good.fixed, good.agreeing = True, None
    assert render.outcome_line(good, Timing(0.01)).plain == "4 steps (the fixed count of --steps ran), 10 ms"


def test_the_legend_names_each_style_by_its_own_style():
    legend = render.legend()
    assert legend.plain == "given  answer  changed  unsure  breaks a rule"
    for label, style in (
        ("given", GIVEN),
        ("answer", ANSWER),
        ("changed", CHANGED),
        ("unsure", UNSURE),
        ("breaks a rule", CONFLICT),
    ):
        assert _style_at(legend, legend.plain.index(label)) == style
        assert _style_at(legend, legend.plain.index(label) - 1) == ""  # the gap between is unstyled
    assert render.legend(plain=True).plain.startswith("[5] given, 5 the model's digit, · blank;")


def test_timing_record_and_title():
    assert Timing(0.9, 6).record() == {"seconds": 0.15, "batch_puzzles": 6, "batch_seconds": 0.9}
    assert Timing(0.0123456789).record()["seconds"] == 0.012346
    assert render.title(Puzzle(SOLUTION, None, "a.txt", 2)) == "a.txt:2"


# -- the SVG sheet ----------------------------------------------------------------------------------------


def _traced(step_answers: list[np.ndarray]) -> Solved:
    """A traced solve of the puzzle with r1c1-r1c4 blank, one answer a step."""
    puzzle = _puzzle([0, 1, 2, 3])
    trace = np.stack(step_answers)[None]
    solutions = _solutions(trace[:, -1], puzzle[None], [len(step_answers)], trace=trace)
    verdict = judge(puzzle, trace[0, -1], 1, SOLUTION)
    return Solved(Puzzle(puzzle, None, "f.txt", 1), solutions, 0, verdict)


def test_frames_are_the_puzzle_then_each_step_with_its_halting_decision():
    puzzle = _puzzle([0, 1, 2, 3])
    one, two = puzzle.copy(), SOLUTION.copy()
    one[0] = SOLUTION[0]
    result = _traced([one, two, two])
    drawn = render.frames(result, (2, 3))
    assert [f.step for f in drawn] == [0, 1, 2, 3]
    assert [f.decision for f in drawn] == [None, "continue", "continue", "halt"]  # the last step halts (p 0.9)
    assert [len(f.changed) for f in drawn] == [0, 1, 3, 0]
    assert all(f.limit == 4 and f.depth == (2, 3) for f in drawn)
    assert drawn[2].halt_probability == pytest.approx(0.5)
    runs = render._unchanged_runs(drawn)
    assert [[f.step for f in run] for run in runs] == [[0], [1], [2, 3]]


def test_a_sheet_draws_one_grid_per_run_of_unchanged_steps_then_the_answer():
    puzzle = _puzzle([0, 1, 2, 3])
    one = puzzle.copy()
    one[0] = SOLUTION[0]
    result = _traced([one, one, SOLUTION.copy(), SOLUTION.copy()])
    console = Console(width=render.SHEET_WIDTH, record=True, file=None, color_system=None)
    with console.capture() as captured:
        console.print(render.sheet(result, (2, 3), Timing(0.2)))
    text = captured.get()
    assert text.splitlines()[0] == "f.txt:1  recursion (2,3)"
    assert "step 0/4 as posed" in text and "4 blanks" in text
    assert "steps 1-2/4: same grid" in text and "p=0.10-0.37 continue" in text
    assert "steps 3-4/4: same grid" in text and "p=0.63-0.90 halt" in text
    assert text.count("answer") == 1
    assert text.count("┌───────┬") == 4  # posed, two runs, the answer
    assert text.splitlines()[-3:] == ["4 steps (halted by the model), 200 ms", "valid solution", ""]
    pictured = render._unchanged_runs(render.frames(result, (2, 3)))
    assert len(pictured) == 3


def test_edges_of_the_grid_and_status_rules():
    """Borders unstyled; exactly one half is sure; a frame draws its own confidences; no change, no names."""
    puzzle = _puzzle([0, 1])
    confidence = np.ones(81, dtype=np.float32)
    confidence[[0, 1]] = [0.5, 0.49]
    text = render.grid_text(puzzle, SOLUTION, confidence)
    assert [_style_at(text, _digit_offset(c)) for c in (0, 1)] == [ANSWER, UNSURE]
    for offset, char in enumerate(text.plain):
        if char in "┌┬┐├┼┤└┴┘│─\n":
            assert _style_at(text, offset) == "", f"{char!r} at {offset} is styled"
    plain = render.grid_text(puzzle, SOLUTION, confidence, plain=True)
    assert all(_style_at(plain, o) == "" for o, char in enumerate(plain.plain) if char in "┌┬┐├┼┤└┴┘│─\n")
    frame = Frame(puzzle, SOLUTION, confidence, SOLUTION, 2, 16, None, 0.4, "continue")
    assert _style_at(frame.grid(), _digit_offset(1)) == UNSURE
    assert frame.status().plain == "step 2/16  halt p=0.40 -> continue  changed 0  unsure 1"
    assert frame.render("t", plain=True).renderables[1].plain == render.grid_text(puzzle, SOLUTION, plain=True).plain
    inside = Frame(puzzle, SOLUTION, confidence, SOLUTION, 2, 16, None, pass_number=1, passes=2)
    assert inside.status().plain == "step 2/16 pass 1/2  inside the step: no halting call yet  changed 0  unsure 1"
    assert render.posed(puzzle, 16, None).answer is puzzle


def test_timing_figures_to_the_millisecond_and_the_microsecond():
    assert Timing(1.0).describe() == "1000 ms"
    assert Timing(2.0, 4).describe() == "500 ms (1/4 of a 2.0 s batch)"
    assert Timing(0.1234567, 2).record() == {"seconds": 0.061728, "batch_puzzles": 2, "batch_seconds": 0.123457}


def test_a_search_summary_of_no_valid_answer_and_of_two_broken_ones():
    results, solutions = _results(0, 2, seconds=1.0)

    class Searched:
        guesses = np.array([0, 0])
        calls = np.array([1, 3])

    for result in results:
        result.searched, result.found_by = Searched, MODEL_ALONE
    assert render.search_summary(results) == "0 valid"
    assert render.summary(results, solutions, 1) == (
        "0 valid, 2 break the rules; mean 2.0 model calls; 1.0 s of model work, 2.0 puzzles/s"
    )


def test_a_plain_final_answer_brackets_givens_and_dims_the_unsure():
    results, _ = _results(1, 0, steps=[2])
    result = results[0]
    result.solutions.confidence[0, 0] = 0.1
    title, grid, _, _ = render.final_answer(result, Timing(0.1)).renderables
    assert str(title.style) == "bold"
    assert grid.plain == _expected_grid(SOLUTION, result.puzzle.grid, plain=False)
    assert _style_at(grid, _digit_offset(0)) == UNSURE and _style_at(grid, _digit_offset(3)) == GIVEN
    plain = render.final_answer(result, Timing(0.1), plain=True).renderables[1]
    assert plain.plain == _expected_grid(SOLUTION, result.puzzle.grid, plain=True)


def test_frames_with_passes_draw_each_pass_before_its_step():
    puzzle = _puzzle([0, 1, 2, 3])
    one, two = puzzle.copy(), SOLUTION.copy()
    one[0] = SOLUTION[0]
    result = _traced([one, two])
    solutions = result.solutions
    half = one.copy()
    half[1] = SOLUTION[1]
    # (1, steps 2, two passes before the last, 81): step 1's passes show the puzzle then `one`, step 2's `half`
    # then `two`; pass confidences mark a different number of unsure cells in each (4, 3, 2, 1)
    passes = np.stack([np.stack([puzzle, one]), np.stack([half, two])])[None]
    solutions.pass_answers = passes
    solutions.pass_confidence = np.ones(passes.shape, dtype=np.float16)
    for k, (step, number) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        solutions.pass_confidence[0, step, number, : 4 - k] = 0.25
    solutions.trace_confidence[0, 1, 1] = 0.25
    drawn = render.frames(result, (2, 3))
    assert [(f.step, f.pass_number) for f in drawn] == [(0, None), (1, 1), (1, 2), (1, None), (2, 1), (2, 2), (2, None)]
    assert [f.passes for f in drawn[1:]] == [3, 3, None, 3, 3, None]
    assert [int((f.answer == 0).sum()) for f in drawn] == [4, 4, 3, 3, 2, 0, 0]
    assert [f.unsure for f in (drawn[1], drawn[2], drawn[4], drawn[5])] == [4, 3, 2, 1]
    for before, frame in zip(drawn, drawn[1:]):  # each frame against the one drawn before it
        assert frame.previous is not None and (frame.previous == before.answer).all()
    assert all(f.depth == (2, 3) for f in drawn)
    assert drawn[1].confidence.dtype == np.float32 and drawn[6].confidence.dtype == np.float32
    assert drawn[6].unsure == 1
    assert drawn[3].halt_probability == pytest.approx(0.1) and drawn[1].halt_probability is None
    assert render._unchanged_runs(drawn) == [[f] for f in drawn]  # passes are never folded


def test_a_halting_probability_of_exactly_one_half_does_not_halt():
    result = _traced([SOLUTION.copy(), SOLUTION.copy(), SOLUTION.copy()])
    result.solutions.halt_probabilities[0, :3] = [0.2, 0.51, 0.5]
    assert [f.decision for f in render.frames(result, (1, 1))][1:] == ["continue", "continue", "step limit"]


def test_unchanged_steps_fold_into_the_run_before_only_when_that_run_is_of_steps():
    puzzle = _puzzle([0, 1])
    a, b = puzzle.copy(), SOLUTION.copy()
    a[0] = SOLUTION[0]
    frames = [
        render.posed(puzzle, 8, None),
        Frame(puzzle, puzzle, None, puzzle, 1, 8, None, 0.1, "continue"),  # unchanged after the posed frame
        Frame(puzzle, a, None, puzzle, 2, 8, None, 0.1, "continue"),
        Frame(puzzle, a, None, a, 3, 8, None, 0.2, "continue"),
        Frame(puzzle, a, None, a, 3, 8, None, pass_number=1, passes=2),
        Frame(puzzle, a, None, a, 4, 8, None, 0.3, "continue"),  # unchanged after a pass: a run of its own
        Frame(puzzle, b, None, a, 5, 8, None, 0.4, "continue"),
        Frame(puzzle, b, None, b, 6, 8, None, 0.9, "halt"),
    ]
    runs = render._unchanged_runs(frames)
    assert [[(f.step, f.pass_number) for f in run] for run in runs] == [
        [(0, None)],
        [(1, None)],
        [(2, None), (3, None)],
        [(3, 1)],
        [(4, None)],
        [(5, None), (6, None)],
    ]


def test_the_sheets_parts_and_layout():
    puzzle = _puzzle([0, 1, 2, 3])
    one = puzzle.copy()
    one[0] = SOLUTION[0]
    wrong = SOLUTION.copy()
    wrong[[0, 1]] = wrong[[1, 0]]
    result = _traced([one, one, wrong])
    result.solutions.confidence[0, 3] = 0.1  # the answer's own confidences are drawn: r1c4 unsure
    heading, table, outcome, verdict, blank = render.sheet(result, (2, 3), Timing(0.2)).renderables
    assert (heading.plain, str(heading.style)) == ("f.txt:1  recursion (2,3)", "bold")
    assert [(c.width, c.no_wrap) for c in table.columns] == [(29, True)] * render.SHEET_COLUMNS
    assert table.padding == (0, 2, 1, 0)
    cells = [cell for column in table.columns for cell in column._cells]
    assert len(cells) == render.SHEET_COLUMNS  # one row: posed, the run of steps 1-2, step 3, the answer, 2 empty
    posed_grid, posed_caption = cells[0].renderables
    assert posed_caption.plain == "step 0/4 as posed\n4 blanks"
    _, run_caption = cells[1].renderables
    assert run_caption.plain == "steps 1-2/4: same grid\np=0.10-0.50 continue"
    assert _style_at(run_caption, run_caption.plain.index("continue")) == "bold yellow"
    _, step_caption = cells[2].renderables
    assert step_caption.plain.startswith("step 3/4 p=0.90 halt")
    answer_grid, answer_caption = cells[3].renderables
    assert (answer_caption.plain, str(answer_caption.style)) == ("answer", "bold")
    assert answer_grid.plain == _expected_grid(wrong, puzzle, plain=False)
    assert _style_at(answer_grid, _digit_offset(0)) == CONFLICT
    assert _style_at(answer_grid, _digit_offset(3)) == UNSURE
    assert outcome.plain.startswith("3 steps") and verdict.plain.startswith("breaks the rules")
    assert blank.plain == ""


def test_the_one_line_form_names_the_place_the_answer_the_steps_and_the_verdict():
    results, _ = _results(1, 1, steps=[2, 3])
    good, bad = (render.answer_line(r) for r in results)
    assert good == f"f.txt:1  {''.join(map(str, SOLUTION))}  2 steps  valid solution"
    assert bad.startswith("f.txt:2  ") and "  3 steps  breaks the rules: " in bad
