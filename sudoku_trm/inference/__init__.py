"""Running a trained TRM: the step engine with halting, voting, adaptive solving, scores.

- `engine`: `solve` puzzles step by step (halting, fixed steps, traces, batches);
- `voting`: solve symmetric copies and keep the best-supported valid answer;
- `adaptive`: more steps, symmetric copies and random restarts, only until an answer passes the exact check;
- `scores`: exact grid, blank-cell, valid and halting accuracy, steps, speed.

Uses `model` and `sudoku`; nothing above.
"""
