"""Files written atomically (checkpoints, exports, downloads) get the usual mode, not a temporary file's 0600."""

from __future__ import annotations

import os
import stat

import pytest

from sudoku_trm.files import atomic_write


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_an_atomically_written_file_has_the_mode_of_any_new_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        target = tmp_path / "out.bin"
        atomic_write(target, lambda f: f.write(b"data"))
        plain = tmp_path / "plain.bin"
        plain.write_bytes(b"data")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~umask
    assert target.read_bytes() == b"data"
