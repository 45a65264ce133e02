"""sudoku-trm: a Tiny Recursive Model that solves Sudoku, trained with the CGAR curriculum.

    from sudoku_trm import solve, check, generate, load_model   # api.py; each imported on first use

The package is layered; imports run one way, from the top of this list down:

    cli/           one module per command: parsing, Rich rendering, consoles, one-line errors, exit codes
    api.py         solve, check and generate as the commands run them, for Python (lazily exported here)
    pretrained.py  models by name: the shipped default, an exported directory or a Hub repo id; pushing one
    hub/           the Hugging Face Hub: downloads, reference checkpoint import
    training/      the trainer loop, curricula, losses, optimisers, stream, checkpoints, DDP
    inference/     the step engine, voting, adaptive solving, commit decoding, guided search, scores, and
                   the efforts' settings and dispatch (settings.py, solving.py)
    model/         ModelConfig, the TRM, its readout, its files on disk, devices
    sudoku/        grid rules, puzzle files, exact solver, checks, logic levels, generator, symmetries,
                   verdicts (no model)
    errors.py, files.py   one-line user errors and atomic writes, used by every layer
"""

__version__ = "0.1.0"

__all__ = ["check", "generate", "load_model", "solve"]


def __getattr__(name: str):
    """`solve`, `check`, `generate` and `load_model`, imported when first asked for: `import sudoku_trm`
    stays cheap, and `check` and `generate` never import torch."""
    if name == "load_model":
        from sudoku_trm.pretrained import load_model

        return load_model
    if name in ("solve", "check", "generate"):
        from sudoku_trm import api

        return getattr(api, name)
    raise AttributeError(f"module 'sudoku_trm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
