"""The web server as `manage.py serve` and the image run it: uvicorn with WEB_CONCURRENCY processes,
each serving on its own event loop, and a shutdown on SIGTERM that leaves answers time to finish.

    python -m chatsite.web_server [--host H] [--port P] [--workers N]

On SIGTERM every process stops accepting connections at once, lets the answers it streams go on for
SHUTDOWN_GRACE_SECONDS, then stops the rest as a user's stop does (chatsite/draining.py); uvicorn waits
SAVE_SECONDS more for them to be saved before it cancels what still runs. The process exits 0.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "chatsite.asgi:application"
# After the grace period: time for the answers stopped then to be saved and their streams to end.
SAVE_SECONDS = 10


def command(python: str, *, host: str, port: str, workers: int | None = None) -> list[str]:
    """The command line starting the web server (`workers`: WEB_CONCURRENCY when None)."""
    line = [python, "-m", "chatsite.web_server", "--host", host, "--port", port]
    return line if workers is None else [*line, "--workers", str(workers)]


def shutdown_seconds(grace: int) -> int:
    """How long a web server may take to shut down, for whatever waits for it (serve, Docker)."""
    return grace + 2 * SAVE_SECONDS


class _Supervisor(Multiprocess):
    """uvicorn's supervisor of several processes, which also closes its copy of the listening socket
    when told to stop: the processes close theirs, and new connections are refused at once instead
    of waiting in the socket's queue until the last answer is saved."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def _exit_quietly(_signal: int, _frame: object) -> None:
    """uvicorn raises the signal it stopped on again once it has shut down gracefully: it then ends
    the process normally (exit 0) instead of by the signal."""


def main(argv: Sequence[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    from django.conf import settings

    parser = argparse.ArgumentParser(prog="python -m chatsite.web_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=settings.WEB_CONCURRENCY)
    options = parser.parse_args(argv)
    from chatsite import metrics_dir

    # The processes of this server add up their metrics in a folder of their own: not in DATA_DIR,
    # which the servers of several containers on one machine may share. Set before they start.
    metrics_home = Path(tempfile.mkdtemp(prefix="kbchat-metrics-"))
    metrics_dir.prepare(metrics_home)
    try:
        _run(options.host, options.port, options.workers, settings.SHUTDOWN_GRACE_SECONDS)
    finally:
        shutil.rmtree(metrics_home, ignore_errors=True)


def _run(host: str, port: int, workers: int, grace: int) -> None:
    config = uvicorn.Config(
        APP,
        host=host,
        port=port,
        workers=max(1, workers),
        lifespan="on",
        timeout_graceful_shutdown=grace + SAVE_SECONDS,
    )
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _exit_quietly)
    if config.workers > 1:
        _Supervisor(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn's: the app could not start


if __name__ == "__main__":
    main()
