"""The app's real processes (Celery worker, ASGI server) started against the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from pathlib import Path

from django.db import connection

from chatsite import workers
from chatsite.celery import app as celery_app
from chatsite.web_server import command as web_server_command

ROOT = Path(__file__).resolve().parents[1]


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "DATABASE_URL": test_database_url(),
        "DATA_DIR": str(data_dir),
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        # As in tests/settings.py: every passage found is kept unless a test sets a floor.
        "RELEVANCE_FLOOR_LATIN": "0",
        "RELEVANCE_FLOOR_HAN": "0",
        **extra,
    }


def use_data_dir(settings, data_dir: Path) -> None:
    """Keep media and indexes where the app's processes started on `data_dir` keep theirs."""
    settings.MEDIA_ROOT = data_dir / "media"
    settings.INDEX_DIR = data_dir / "indexes"


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop_worker(process: subprocess.Popen) -> None:
    """Cold shutdown (the running tasks are not waited for), then the whole group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def _started(command: list[str], *, log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
        try:
            yield process
        finally:
            _stop_worker(process)


def _wait_until_answering(workers: dict[str, tuple[subprocess.Popen, Path]]) -> None:
    """Until every worker (by name) answers a ping; RuntimeError with its log if one stops or is slow."""
    deadline = time.monotonic() + 90
    waiting = set(workers)
    while waiting:
        # Returns once as many replies came as workers are awaited, not after the whole second.
        replies = celery_app.control.ping(timeout=1.0, limit=len(waiting))
        answered = {key.partition("@")[0] for reply in replies for key in reply}
        waiting -= answered
        for name in waiting:
            process, log = workers[name]
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The Celery worker {name} did not start:\n{log.read_text()[-3000:]}")


@contextmanager
def celery_worker(
    data_dir: Path,
    *,
    log: Path,
    name: str = "worker",
    beat: bool = False,
    ocr: bool = False,
    purge: bool = True,
    **env: str,
) -> Iterator[subprocess.Popen]:
    """A real ingest worker on the real broker, started as `manage.py serve` starts it (prefork pool,
    INGEST_WORKER_PROCESSES processes) in a process group of its own; with `beat`, the sweeper too,
    and with `ocr` the OCR worker."""
    if purge:
        celery_app.control.purge()
    environment = app_env(data_dir, **env)
    commands = {name: (workers.ingest_worker(sys.executable, name=name), log)}
    if beat:
        sweeper = f"{name}-sweeper"
        schedule = str(data_dir / f"{name}-beat")
        commands[sweeper] = (
            workers.sweeper(sys.executable, name=sweeper, schedule=schedule),
            log.with_name(f"{log.stem}-sweeper.log"),
        )
    if ocr:
        commands[f"{name}-ocr"] = (
            workers.ocr_worker(sys.executable, name=f"{name}-ocr"),
            log.with_name(f"{log.stem}-ocr.log"),
        )
    with ExitStack() as stack:
        started = {
            worker: (stack.enter_context(_started(command, log=path, env=environment)), path)
            for worker, (command, path) in commands.items()
        }
        _wait_until_answering(started)
        yield started[name][0]


def started_together(stack: ExitStack, *managers: AbstractContextManager) -> list:
    """Enter the context managers at once (each start loads the embedding model, seconds of one
    core's time); exit them with the stack. At most one may be a Celery worker: the workers' pings
    share one reply queue."""
    with ThreadPoolExecutor(len(managers)) as pool:
        futures = [pool.submit(manager.__enter__) for manager in managers]
    for manager, future in zip(managers, futures, strict=True):
        if future.exception() is None:
            stack.push(manager)
    return [future.result() for future in futures]


def wait_for(condition, seconds: float = 180, what: str = "condition"):
    """The first true value of `condition()`, asked every 0.3 s for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def asgi_server(
    data_dir: Path, *, log: Path, app: str = "chatsite.asgi:application", port: int = 0, **env: str
) -> Iterator[str]:
    """The app under uvicorn, as `make run` serves it, on `port` (a free one by default); yields its
    base URL once it answers, which is after it has loaded the embedding model."""
    port = port or free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    with _serving(command, port, log=log, env=app_env(data_dir, **env)) as (url, _process):
        yield url


@contextmanager
def web_server(
    data_dir: Path, *, log: Path, workers: int = 1, **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app as `manage.py serve` and the image serve it (chatsite/web_server.py), with `workers`
    processes; yields its base URL once it answers, and the server's process (to signal)."""
    port = free_port()
    command = web_server_command(sys.executable, host="127.0.0.1", port=str(port), workers=workers)
    with _serving(command, port, log=log, env=app_env(data_dir, **env)) as served:
        yield served


@contextmanager
def serve_web_only(data_dir: Path, *, log: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`manage.py serve --web-only` with one web process; yields its base URL once it answers, and
    the command's process (to signal)."""
    port = free_port()
    command = [sys.executable, "manage.py", "serve", "--web-only", "--workers", "1", "--port", str(port)]
    with _serving(command, port, log=log, env=app_env(data_dir, **env)) as served:
        yield served


@contextmanager
def _serving(
    command: list[str], port: int, *, log: Path, env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300  # a busy machine takes minutes to load the model
            while True:
                try:
                    urllib.request.urlopen(f"{url}/accounts/login/", timeout=10).close()
                    break
                except OSError:  # refused until it has loaded the model
                    if process.poll() is not None or time.monotonic() > deadline:
                        output_tail = log.read_text()[-3000:]
                        raise RuntimeError(f"The web server did not start:\n{output_tail}") from None
                    time.sleep(0.3)
            yield url, process
        finally:
            _stop(process)
