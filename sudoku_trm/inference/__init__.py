"""Running a trained TRM: the step engine with halting, voting over symmetric copies, scores.

- `engine`: `solve` puzzles step by step (halting, fixed steps, traces, batches);
- `voting`: solve symmetric copies and keep the best-supported valid answer;
- `scores`: exact grid, blank-cell, valid and halting accuracy, steps, speed.

Uses `model` and `sudoku`; nothing above.
"""
