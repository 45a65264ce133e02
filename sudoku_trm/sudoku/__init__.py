"""Sudoku itself, with no model: grid rules, puzzle files, the exact solver, symmetries, verdicts.

- `grid`: geometry (units, cell names) and rule checks, vectorised over batches;
- `puzzles`: read and write puzzle files (line, grid, CSV); every problem names file, line and cause;
- `solver`: the exact solver (bitmask search): solve, count solutions, rate;
- `kernels`: the solver's kernels, plain Python for a process's first few hundred propagations, then numba-compiled;
- `checking`: the exact solver's verdict on puzzles (unique, several, none; guesses);
- `logic`: logic rounds (singles, locked candidates) and the levels they grade (`LEVELS`);
- `generate`: new unique puzzles of a level, from a seed;
- `augment`: the Sudoku symmetry group, vectorised, in numpy and torch, with inverses;
- `verdict`: a model's answer judged by the rules;
- `puzzle_sets`: whole files as compact arrays with an `.npz` cache.

Imports nothing from the layers above (model, training, inference, hub, cli).
"""
