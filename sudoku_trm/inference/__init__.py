"""Running a trained TRM: the step engine and every way of spending more on a puzzle, and who decides which.

- `engine`: `solve` puzzles step by step (halting, fixed steps, traces, recursion passes, batches);
- `voting`: solve symmetric copies and keep the best-supported valid answer;
- `adaptive`: more steps, symmetric copies and random restarts, only until an answer passes the exact check;
- `commit`: commit decoding: the cells the model is sure of become givens, and it runs again;
- `search`: guided search: commit decoding that branches and backtracks within a budget of model calls,
  then the exact solver;
- `settings`: `SolveSettings`, the efforts (off, commit, search, auto, adaptive presets, votes) as data,
  with no torch import;
- `solving`: `solve_puzzles` runs what the settings say (the one dispatch for the commands and the API),
  `SolvedBatch` with who found each answer; CPU threads for small batches;
- `found`: the words for who found an answer (model alone, commit decoding, guided search, exact solver...);
- `scores`: exact grid, blank-cell, valid and halting accuracy, steps, speed.

Uses `model` and `sudoku`; nothing above.
"""
