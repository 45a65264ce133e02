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
