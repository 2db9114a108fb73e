"""What a benchmark ran on, for the figures it reports (imported by the benchmark scripts)."""

import os
import platform
from pathlib import Path


def describe(**versions: str) -> dict:
    """CPU model, cores, RAM, Python, the given library versions and the load when measuring began."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text().split()
    return {
        "cpu": models[0] if models else platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1),
        "python": platform.python_version(),
        **versions,
        "load_average": os.getloadavg()[0],
    }
