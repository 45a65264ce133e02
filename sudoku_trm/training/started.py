"""When this process started, on the clock a time budget reads (kept free of torch: the CLI reads it first)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def process_start() -> float:
    """The `time.perf_counter()` reading at which this process started (Linux: from /proc, so that the
    interpreter's start and the imports before the first line of the command count against a time
    budget too); elsewhere, now."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        since = uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter()
    return time.perf_counter() - min(max(since, 0.0), 60.0)
