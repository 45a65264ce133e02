"""The `sudoku-trm` command line: it parses options, calls the library and maps errors to exit codes.

Exit codes: 0 ok, 1 bad input, 2 bad usage, 130 interrupted (Ctrl-C). Nothing here decides Sudoku,
model or training questions; those live in the layers below.

- `app`: the Typer app, every command's options, the entry point `main` and the program `script`;
- one module per command: `solve`, `eval` (`eval.py`), `check`, `train`, `download`;
- `model_options`: the flags `solve` and `eval` share (as inference/settings.py's `SolveSettings`, which
  inference/solving.py runs) and loading the model they name;
- `live`: `solve`'s live view, each step drawn as the model makes it;
- `render`: how grids, steps and answers look; `progress`: progress bars; `terminal`: the two
  consoles and the one-line error form.
"""

from sudoku_trm.cli.app import app, main, script

__all__ = ["app", "main", "script"]
