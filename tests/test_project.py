"""The project's own promises: CI runs exactly the README's test command."""

from conftest import ROOT


def test_ci_runs_exactly_the_readme_test_command():
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    test_command = ci_commands[-1]
    assert "pytest" in test_command
    readme_blocks = (ROOT / "README.md").read_text().split("```bash\n")
    assert readme_blocks[2].split("\n")[0] == test_command  # the second set-up command
