"""The project's own promises: CI runs exactly the README's test command, and the code is ruff-clean."""

import subprocess
import sys

import pytest
from conftest import ROOT


def test_ci_runs_exactly_the_readme_test_command():
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    test_command = ci_commands[-1]
    assert "pytest" in test_command
    readme_blocks = (ROOT / "README.md").read_text().split("```bash\n")
    assert readme_blocks[2].split("\n")[0] == test_command  # the second set-up command


def test_code_is_ruff_clean():
    """Lint and format, as configured in pyproject.toml: CI runs the tests, so it runs these too."""
    pytest.importorskip("ruff")
    for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout}{result.stderr}"


LAYERS = ["errors", "files", "sudoku", "model", "inference", "training", "hub", "pretrained", "api", "cli"]  # up
# Imports made inside a function on purpose, running up: only the package root's lazy exports
# (`from sudoku_trm import solve`; model/ reaches the Hub through nothing: sudoku_trm/pretrained.py, above
# both, loads models by repo id).
LAZY_UPWARD: set[tuple[str, str]] = {("sudoku_trm", "sudoku_trm.api"), ("sudoku_trm", "sudoku_trm.pretrained")}


def package_imports() -> list[tuple[str, str, bool]]:
    """(importing module, imported sudoku_trm module, at module level?) for every import in the package."""
    import ast

    found = []
    for path in sorted((ROOT / "sudoku_trm").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sudoku_trm"):
                folder = ROOT.joinpath(*node.module.split("."))
                # `from package import module` imports the module; `from module import name`, the module
                targets = [
                    f"{node.module}.{a.name}"
                    if (folder / f"{a.name}.py").exists() or (folder / a.name).is_dir()
                    else node.module
                    for a in node.names
                ]
                found += [(module, target, id(node) in top_level) for target in targets]
            elif isinstance(node, ast.Import):
                found += [
                    (module, a.name, id(node) in top_level) for a in node.names if a.name.startswith("sudoku_trm")
                ]
    return found


def layer(module: str) -> int:
    """Position in LAYERS; `__main__` sits on top, the package root (its version) below everything."""
    name = module.split(".")[1] if "." in module else ""
    if name == "__main__":
        return len(LAYERS)
    return LAYERS.index(name) if name in LAYERS else -1


def test_imports_run_one_way_from_cli_down_to_sudoku():
    upward = [
        (source, target)
        for source, target, _ in package_imports()
        if layer(target) > layer(source) and (source, target) not in LAZY_UPWARD
    ]
    assert upward == []


def test_no_import_loop_at_any_level():
    """Not even through an import made inside a function: such a loop still means two modules that each
    need the other, which is one module, or a layer out of order."""
    graph: dict[str, set[str]] = {}
    for source, target, _ in package_imports():
        if source != target:
            graph.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    loops = sorted(module for module in graph if reaches(module, module, set()))
    assert loops == []
