"""The app under uvicorn (one process) with cProfile in every Python thread, for benchmarks/open_loop.py
--profile: the event loop's thread and every thread started later (the database pool, sync_to_async)
each get a profiler, so the answer's database work and retrieval are counted with its event-loop work.

Each SIGUSR1 writes the sum of all threads' statistics so far to OUT.<n> (marshal, pstats' format),
without stopping them; the difference of two snapshots is what happened between them.

    .venv/bin/python benchmarks/profiled_server.py --port N --out PREFIX
"""

import argparse
import cProfile
import marshal
import signal
import threading
import time

profiles: list[cProfile.Profile] = []


def _profile_thread(*_args) -> None:
    # threading calls this at the start of each new thread: a profiler of its own takes over.
    profiler = cProfile.Profile(time.thread_time)  # CPU time: other processes' load does not count
    profiles.append(profiler)
    profiler.enable()


def snapshot(path: str) -> None:
    total: dict = {}
    for profiler in list(profiles):
        profiler.snapshot_stats()  # reads the counters without stopping the profiler
        for function, (calls, primitive, own, cumulative, _callers) in profiler.stats.items():  # type: ignore[attr-defined]
            before = total.get(function, (0, 0, 0.0, 0.0, {}))
            total[function] = (
                before[0] + calls,
                before[1] + primitive,
                before[2] + own,
                before[3] + cumulative,
                {},
            )
    with open(path, "wb") as output:
        marshal.dump(total, output)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    snapshots = 0

    def on_signal(_signum, _frame) -> None:
        nonlocal snapshots
        main_profiler.disable()  # the snapshot itself is not the app's work
        snapshot(f"{args.out}.{snapshots}")
        main_profiler.enable()
        snapshots += 1

    main_profiler = cProfile.Profile(time.thread_time)
    signal.signal(signal.SIGUSR1, on_signal)
    threading.setprofile(_profile_thread)
    profiles.append(main_profiler)
    main_profiler.enable()
    import uvicorn

    uvicorn.run("chatsite.asgi:application", host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
