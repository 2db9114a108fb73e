"""The folder where the web processes of one machine keep their metrics for each other.

prometheus_client's multiprocess mode: each process writes its counters to memory-mapped files in
PROMETHEUS_MULTIPROC_DIR, and /metrics, in whichever process answers it, adds them up. The files of
an earlier run would be added too, so the folder is emptied as the server starts, before any process
that writes there; the variable is inherited by the processes started after. It must be set before
prometheus_client is first imported, which chooses its mode then.
"""

import os
import shutil
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare(data_dir: Path) -> Path:
    """Empty `data_dir`/metrics and point this process, and those it starts, at it."""
    folder = data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ[VARIABLE] = str(folder)
    return folder
