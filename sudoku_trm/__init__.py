"""sudoku-trm: a Tiny Recursive Model that solves Sudoku, trained with the CGAR curriculum.

The package is layered; imports run one way, from the top of this list down:

    cli/        one module per command, Rich rendering, consoles and one-line errors
    hub/        the Hugging Face Hub: downloads, reference checkpoint import
    training/   the trainer loop, curricula, losses, optimisers, stream, checkpoints, DDP
    inference/  the step engine, voting, adaptive solving, scores
    model/      ModelConfig, the TRM, its readout, its files on disk, devices
    sudoku/     grid rules, puzzle files, exact solver, symmetries, verdicts (no model)
    errors.py, files.py   one-line user errors and atomic writes, used by every layer
"""

__version__ = "0.1.0"
