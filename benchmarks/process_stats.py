"""CPU time, threads and memory of processes, read from /proc (Linux only)."""

import asyncio
import os
import time
from pathlib import Path


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status(pid: int) -> dict[str, int]:
    """Peak and current resident memory (kB) and the thread count of a process."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "Threads"):
            values[key] = int(value.split()[0])
    return values


def child_pid(marker: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                mine = int(_stat(int(entry.name))[1]) == os.getpid()
                if mine and marker in (entry / "cmdline").read_text():
                    return int(entry.name)
            except (OSError, IndexError):
                continue
    raise RuntimeError(f"No child process running {marker}")


class Sampler:
    """CPU use and threads of some processes, twice a second while the streams run."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float], dict[str, int]]] = []

    def sample(self) -> None:
        cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        threads = {name: status(pid)["Threads"] for name, pid in self.pids.items()}
        self.samples.append((time.perf_counter(), cpu, threads))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def summary(self) -> dict[str, dict]:
        self.sample()
        (start, first, _), (end, last, _) = self.samples[0], self.samples[-1]
        result = {}
        for name, pid in self.pids.items():
            pairs = zip(self.samples, self.samples[1:], strict=False)
            busiest = max(((b[1][name] - a[1][name]) / (b[0] - a[0]) for a, b in pairs), default=0.0)
            memory = status(pid)
            result[name] = {
                "cpu_s": round(last[name] - first[name], 1),
                "cpu_mean_pct": round(100 * (last[name] - first[name]) / (end - start)),
                "cpu_busiest_half_second_pct": round(100 * busiest),
                "threads_peak": max(sample[2][name] for sample in self.samples),
                # A process that has exited (a zombie until reaped) has no memory figures left.
                "exited": _stat(pid)[0] in "ZX",
                "rss_mb": round(memory["VmRSS"] / 1024) if "VmRSS" in memory else None,
                "peak_rss_mb": round(memory["VmHWM"] / 1024) if "VmHWM" in memory else None,
            }
        return result
