"""Exact Sudoku solver: the ground truth for evaluation and the checker of input puzzles.

A depth-first search over candidate bitmasks (bit d-1 set when digit d is still possible in a cell). Before each
guess the grid is pushed as far as logic alone takes it: naked singles, hidden singles and box-line interactions
(locked candidates); the search then branches on a blank cell with the fewest candidates, preferring the cell whose
guesses strike the most candidates from its peers. The kernels run as plain Python for a process's first few
hundred propagations, then compiled by numba and cached on disk (kernels.py): identical results either way.

`guesses` counts every digit the search tries at a branch point, so it is 0 for a puzzle that logic alone solves
and grows with how much trial and error a puzzle needs: a difficulty measure (`rate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sudoku_trm.sudoku import kernels
from sudoku_trm.sudoku.grid import BLANK, CELLS, SIZE, UNITS, cell_name
from sudoku_trm.sudoku.kernels import kernel

ALL_DIGITS = (1 << SIZE) - 1  # candidate mask of a cell nothing has been ruled out for
MAX_DEPTH = CELLS  # every guess places one more digit, so the search is never deeper than the blank cells
UNCAPPED = 1 << 62  # the compiled search's cap on guesses: none


def _bit_tables() -> tuple[np.ndarray, np.ndarray]:
    """POPCOUNT[mask]: how many digits a candidate mask holds; LOWEST_DIGIT[mask]: its smallest digit (0 if none)."""
    masks = range(ALL_DIGITS + 1)
    popcount = np.array([bin(m).count("1") for m in masks], dtype=np.int64)
    lowest_digit = np.array([(m & -m).bit_length() for m in masks], dtype=np.int64)
    return popcount, lowest_digit


def _peer_table() -> np.ndarray:
    """PEERS[cell]: the 20 other cells sharing a row, column or box with it."""
    peers = [np.setdiff1d(UNITS[(UNITS == cell).any(axis=1)], [cell]) for cell in range(CELLS)]
    return np.array(peers, dtype=np.int64)


def _box_line_tables() -> tuple[np.ndarray, ...]:
    """The 54 segments where a box meets a row or column (3 cells each) and, for each segment, the indices of the
    other two segments of its box running the same way and of the other two segments of its line."""
    segments, places = [], []  # places[s]: (box, line) of segment s; lines 0..8 are rows, 9..17 columns
    for box in range(SIZE):
        for line in range(2 * SIZE):
            shared = np.intersect1d(UNITS[2 * SIZE + box], UNITS[line])
            if shared.size:
                segments.append(shared)
                places.append((box, line))

    def others(same_group) -> np.ndarray:
        rows = [[t for t, q in enumerate(places) if t != s and same_group(p, q)] for s, p in enumerate(places)]
        return np.array(rows, dtype=np.int64)

    box_siblings = others(lambda p, q: p[0] == q[0] and (p[1] < SIZE) == (q[1] < SIZE))
    line_siblings = others(lambda p, q: p[1] == q[1])
    return np.array(segments, dtype=np.int64), box_siblings, line_siblings


POPCOUNT, LOWEST_DIGIT = _bit_tables()
PEERS = _peer_table()
SEGMENT, BOX_SIBLINGS, LINE_SIBLINGS = _box_line_tables()
BOX_REST = SEGMENT[BOX_SIBLINGS].reshape(-1, 6)  # the 6 cells of a segment's box outside it
LINE_REST = SEGMENT[LINE_SIBLINGS].reshape(-1, 6)  # the 6 cells of a segment's line outside it
MASK_OF_VALUE = np.array([ALL_DIGITS] + [1 << d for d in range(SIZE)], dtype=np.int64)  # a blank can be any digit
FORCING_WEIGHT = 4  # branching score of a peer a guess would leave with one candidate, vs. 1 per struck candidate


@dataclass(frozen=True)
class Analysis:
    solution: np.ndarray | None  # the first solution found, uint8[81]; None when there is none
    count: int  # solutions found, at most the search's limit
    guesses: int  # digits tried at branch points over the whole search

    @property
    def unique(self) -> bool:
        return self.count == 1

    @property
    def solvable(self) -> bool:
        return self.count >= 1


# --- compiled kernels --------------------------------------------------------------------------------------------
# A search state is a pair of arrays: cand (candidate mask per cell) and value (placed digit per cell, 0 = blank).
# A cell is placed once its single candidate has been struck from all its peers.


@kernel
def _naked_singles(cand, value):
    """Place every blank cell left with one candidate, striking its digit from its peers; a peer this leaves with
    one candidate is placed in turn. False on a contradiction: a cell left with no candidate."""
    pending = np.empty(CELLS, dtype=np.int64)  # each cell becomes single at most once, so 81 slots suffice
    n_pending = 0
    for cell in range(CELLS):
        if value[cell] == BLANK and POPCOUNT[cand[cell]] == 1:
            pending[n_pending] = cell
            n_pending += 1
    while n_pending:
        n_pending -= 1
        cell = pending[n_pending]
        digit_bit = cand[cell]
        value[cell] = LOWEST_DIGIT[digit_bit]
        for peer in PEERS[cell]:
            if cand[peer] & digit_bit:
                cand[peer] &= ~digit_bit
                if cand[peer] == 0:
                    return False
                if POPCOUNT[cand[peer]] == 1:
                    pending[n_pending] = peer
                    n_pending += 1
    return True


@kernel
def _hidden_singles(cand, value):
    """Reduce a cell to digit d where it is the only place left for d in some unit.
    Returns how many cells were reduced, or -1 on a contradiction: a digit with no place in a unit, or a cell
    that is the only place for two digits."""
    reduced = 0
    for unit in UNITS:
        seen = 0  # digits possible somewhere in the unit
        seen_twice = 0  # digits possible in two or more of its cells
        placed = 0
        for cell in unit:
            seen_twice |= seen & cand[cell]
            seen |= cand[cell]
            if value[cell] != BLANK:
                placed |= cand[cell]
        if seen != ALL_DIGITS:
            return -1
        hidden = seen & ~seen_twice & ~placed
        if hidden == 0:
            continue
        for cell in unit:
            only_here = cand[cell] & hidden
            if only_here and only_here != cand[cell]:
                if POPCOUNT[only_here] > 1:
                    return -1
                cand[cell] = only_here
                reduced += 1
    return reduced


@kernel
def _union(cand, cells):
    digits = 0
    for cell in cells:
        digits |= cand[cell]
    return digits


@kernel
def _strike(cand, cells, digits):
    """Remove `digits` from the candidates of `cells`: how many cells changed, or -1 if one is left with none."""
    changed = 0
    for cell in cells:
        if cand[cell] & digits:
            cand[cell] &= ~digits
            if cand[cell] == 0:
                return -1
            changed += 1
    return changed


@kernel
def _locked_candidates(cand):
    """Box-line interactions. If a digit's places in a box all lie on one line, the digit goes in that box's part of
    the line, so the rest of the line loses it (pointing); if its places on a line all lie in one box, the rest of
    the box loses it (claiming). Returns how many cells lost candidates, or -1 on a contradiction."""
    in_segment = np.empty(len(SEGMENT), dtype=np.int64)  # digits possible in each segment
    for s in range(len(SEGMENT)):
        in_segment[s] = _union(cand, SEGMENT[s])
    changed = 0
    for s in range(len(SEGMENT)):
        in_box_rest = in_segment[BOX_SIBLINGS[s, 0]] | in_segment[BOX_SIBLINGS[s, 1]]
        in_line_rest = in_segment[LINE_SIBLINGS[s, 0]] | in_segment[LINE_SIBLINGS[s, 1]]
        pointing = in_segment[s] & ~in_box_rest & in_line_rest
        claiming = in_segment[s] & ~in_line_rest & in_box_rest
        if pointing | claiming:  # rare: skip the cell loops otherwise
            # Strikes may leave later segments' unions stale; stale unions only hold extra digits, which makes
            # the rule find less, never something false.
            line_struck = _strike(cand, LINE_REST[s], pointing)
            box_struck = _strike(cand, BOX_REST[s], claiming)
            if line_struck < 0 or box_struck < 0:
                return -1
            changed += line_struck + box_struck
    return changed


@kernel
def _propagate(cand, value):
    """Apply the deductions to a fixed point, cheapest first. False if the state has no solution."""
    while True:
        if not _naked_singles(cand, value):
            return False
        reduced = _hidden_singles(cand, value)
        if reduced < 0:
            return False
        if reduced == 0:
            reduced = _locked_candidates(cand)
            if reduced <= 0:
                return reduced == 0


@kernel
def _branch_cell(cand, value):
    """A blank cell with the fewest candidates, or -1 when none is blank. Among those, the one whose guesses reach
    furthest: each candidate it shares with a peer scores 1, or FORCING_WEIGHT where the peer has two candidates
    (a guess then leaves it a single). Far-reaching guesses fail sooner; this halves the guesses on hard puzzles."""
    best, fewest, best_score = -1, SIZE + 1, -1
    for cell in range(CELLS):
        if value[cell] != BLANK or POPCOUNT[cand[cell]] > fewest:
            continue
        score = 0
        for peer in PEERS[cell]:  # placed peers share no candidate: propagation struck their digits
            shared = POPCOUNT[cand[peer] & cand[cell]]
            score += shared * FORCING_WEIGHT if POPCOUNT[cand[peer]] == 2 else shared
        if POPCOUNT[cand[cell]] < fewest or score > best_score:
            best, fewest, best_score = cell, POPCOUNT[cand[cell]], score
    return best


@kernel
def _next_digit(untried, scores):
    """The untried digit (a bit of `untried`) with the highest score (`scores`: 10 per cell, index = digit);
    on a tie the lowest digit, so equal scores give the plain order: lowest digit first."""
    best_bit, best = 0, -np.inf
    for digit in range(1, SIZE + 1):
        bit = MASK_OF_VALUE[digit]
        if untried & bit and scores[digit] > best:
            best_bit, best = bit, scores[digit]
    return best_bit


@kernel
def _analyse(givens, limit, solution, order, max_guesses):
    """Search until `limit` solutions are found or none are left; the first goes to `solution`. At a branch the
    digits are tried by `order` (81, 10), highest first (all equal: lowest digit first).
    Returns (solutions found, guesses), or (-1, guesses) when the search would pass `max_guesses`.
    Level d of the stacks holds the state after the d-th guess in force."""
    cand = np.empty((MAX_DEPTH + 1, CELLS), dtype=np.int32)
    value = np.zeros((MAX_DEPTH + 1, CELLS), dtype=np.uint8)
    branch_cell = np.empty(MAX_DEPTH + 1, dtype=np.int64)
    untried = np.zeros(MAX_DEPTH + 1, dtype=np.int32)  # digits not yet tried at each level's branch cell
    for cell in range(CELLS):
        cand[0, cell] = MASK_OF_VALUE[givens[cell]]
    count, guesses, depth = 0, 0, 0
    consistent = _propagate(cand[0], value[0])  # conflicting givens fail here, before any guess
    while True:
        if consistent:
            cell = _branch_cell(cand[depth], value[depth])
            if cell < 0:
                if count == 0:
                    for solved_cell in range(CELLS):
                        solution[solved_cell] = value[depth, solved_cell]
                count += 1
                if count >= limit:
                    break
            else:
                depth += 1
                branch_cell[depth] = cell
                untried[depth] = cand[depth - 1, cell]
        while depth > 0 and untried[depth] == 0:  # backtrack to the deepest branch with a digit left to try
            depth -= 1
        if depth == 0:
            break
        if guesses >= max_guesses:
            return -1, guesses
        digit_bit = _next_digit(untried[depth], order[branch_cell[depth]])
        untried[depth] ^= digit_bit
        for cell in range(CELLS):  # element loops, not slice assignments: those add seconds of compile time
            cand[depth, cell] = cand[depth - 1, cell]
            value[depth, cell] = value[depth - 1, cell]
        cand[depth, branch_cell[depth]] = digit_bit
        guesses += 1
        consistent = _propagate(cand[depth], value[depth])
    return count, guesses


@kernel
def _analyse_batch(grids, limit, solutions, counts, guesses, orders):
    for i in range(grids.shape[0]):
        counts[i], guesses[i] = _analyse(grids[i], limit, solutions[i], orders[i], UNCAPPED)


def _analyse_all(grids, limit, solutions, counts, guesses, orders) -> None:
    """`_analyse_batch`, as plain Python while the kernels' budget lasts (one propagation per search node:
    1 + its guesses), then compiled from the first puzzle that would overrun it."""
    if len(grids) > kernels.plain_work_left():  # more searches than the budget has propagations
        kernels.compile_all()
    start = 0
    while start < len(grids) and not kernels.compiled():
        count, tried = _analyse(grids[start], limit, solutions[start], orders[start], kernels.plain_work_left() - 1)
        if count < 0:  # this puzzle starts again: compiled, or without numba as Python under a budget without end
            kernels.compile_all()
            continue
        counts[start], guesses[start] = count, tried
        kernels.use(1 + tried)
        start += 1
    if start < len(grids):
        _analyse_batch(grids[start:], limit, solutions[start:], counts[start:], guesses[start:], orders[start:])


@kernel
def _propagate_grid(givens, value, cand):
    """`_propagate` from a grid: fills `value` (the grid with every cell logic places) and `cand` (each cell's
    candidate mask). False on a contradiction."""
    for cell in range(CELLS):
        cand[cell] = MASK_OF_VALUE[givens[cell]]
        value[cell] = BLANK
    return _propagate(cand, value)


# --- public API -------------------------------------------------------------------------------------------------


def _as_grids(grids, single: bool) -> np.ndarray:
    """Validate puzzles and return them as a contiguous (N, 81) uint8 array."""
    array = np.asarray(grids)
    if array.dtype.kind not in "iu":
        raise ValueError(f"a grid must hold integers 0..9, got dtype {array.dtype}")
    grid_shape = array.shape if single else array.shape[1:]
    if grid_shape not in ((CELLS,), (SIZE, SIZE)):
        expected = "81 cells or 9x9" if single else "(N, 81) or (N, 9, 9)"
        raise ValueError(f"expected a grid of {expected}, got shape {array.shape}")
    array = array.reshape(-1, CELLS)
    bad = np.argwhere((array < BLANK) | (array > SIZE))
    if bad.size:
        puzzle, cell = bad[0]
        where = cell_name(int(cell)) if single else f"puzzle {puzzle}, {cell_name(int(cell))}"
        raise ValueError(f"{where} holds {array[puzzle, cell]}: a cell must be 0 (blank) or a digit 1..9")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _check_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return int(limit)


def _digit_order(order, count: int) -> np.ndarray:
    """`order` as (count, 81, 10) float64 scores, index = digit (column 0 unused); None: all equal."""
    if order is None:
        return np.zeros((count, CELLS, SIZE + 1))
    scores = np.asarray(order, dtype=np.float64).reshape(count, CELLS, -1)
    if scores.shape[-1] != SIZE:
        raise ValueError(f"a digit order holds 9 scores per cell (digits 1..9), got shape {np.shape(order)}")
    return np.concatenate([np.zeros((count, CELLS, 1)), scores], axis=-1)


def analyse(grid, limit: int = 2, order=None) -> Analysis:
    """Search until `limit` solutions are found or there are no more; limit=2 proves a solution unique.
    `order` (81, 9): a score per cell and digit 1..9 (a model's probabilities, say); at each branch the
    search tries the highest first. It changes which solution comes first and the guesses spent, never
    the count. Default: lowest digit first."""
    givens = _as_grids(grid, single=True)[0]
    solution = np.zeros(CELLS, dtype=np.uint8)
    counts, guesses = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    _analyse_all(givens[None], _check_limit(limit), solution[None], counts, guesses, _digit_order(order, 1))
    return Analysis(solution if counts[0] else None, int(counts[0]), int(guesses[0]))


def solve(grid) -> np.ndarray | None:
    """The first solution found, or None if the puzzle has none."""
    return analyse(grid, limit=1).solution


def count_solutions(grid, limit: int = 2) -> int:
    """The number of solutions, counted up to `limit`."""
    return analyse(grid, limit).count


def rate(grid) -> int:
    """Difficulty: the guesses needed to find the solution and prove it unique (0 if logic alone solves it)."""
    return analyse(grid, limit=2).guesses


def analyse_batch(grids, limit: int = 2, orders=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`analyse` over (N, 81) puzzles in one compiled loop: solutions (N, 81) uint8 (zero where none),
    counts (N,) and guesses (N,); `orders` (N, 81, 9) as `analyse`'s `order`, per puzzle."""
    grids = _as_grids(grids, single=False)
    solutions = np.zeros_like(grids)
    counts = np.zeros(len(grids), dtype=np.int64)
    guesses = np.zeros(len(grids), dtype=np.int64)
    _analyse_all(grids, _check_limit(limit), solutions, counts, guesses, _digit_order(orders, len(grids)))
    return solutions, counts, guesses


def propagate(grid) -> tuple[np.ndarray, np.ndarray] | None:
    """The grid pushed as far as the search's logic takes it before a guess (naked and hidden singles, locked
    candidates, to a fixed point): (grid uint8[81] with every cell logic places, candidates bool (81, 9): digit
    d+1 still possible in cell c, a single one where placed). None when logic meets a contradiction: the grid
    has no solution."""
    givens = _as_grids(grid, single=True)[0]
    value = np.zeros(CELLS, dtype=np.uint8)
    cand = np.zeros(CELLS, dtype=np.int32)  # the search's own type: one compiled `_propagate`
    kernels.use(1)
    if not _propagate_grid(givens, value, cand):
        return None
    return value, (cand[:, None] >> np.arange(SIZE)) & 1 == 1


def branch_cell(grid, candidates) -> int:
    """The cell the exact search branches on at this node (`grid`, `candidates` as `propagate` returns them):
    fewest candidates, then the furthest reach; -1 when no cell is blank. For searches outside this module that
    keep the exact search's tree and change only the digit order."""
    value = _as_grids(grid, single=True)[0]
    masks = (np.asarray(candidates, dtype=bool).reshape(CELLS, SIZE) << np.arange(SIZE)).sum(axis=1)
    kernels.use(1)
    return int(_branch_cell(masks.astype(np.int32), value))
