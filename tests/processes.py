"""The app's real processes (Celery worker, ASGI server) started against the test database."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from chatsite.celery import app as celery_app

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


@contextmanager
def celery_worker(
    data_dir: Path, *, log: Path, name: str = "worker", beat: bool = False, purge: bool = True, **env: str
) -> Iterator[subprocess.Popen]:
    """A real worker on the real broker, with the same queue the app sends to."""
    if purge:
        celery_app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "chatsite", "worker", "--pool=solo", "-l", "INFO"]
    command += [f"--hostname={name}@%h", *(["--beat", f"--schedule={data_dir / name}-beat"] if beat else [])]
    with log.open("wb") as output:
        environment = app_env(data_dir, **env)
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
        try:
            deadline = time.monotonic() + 90
            while not any(
                key.startswith(f"{name}@") for reply in celery_app.control.ping(timeout=1.0) for key in reply
            ):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
            yield process
        finally:
            _stop(process)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def asgi_server(data_dir: Path, *, log: Path, **env: str) -> Iterator[str]:
    """The app under uvicorn, as `make run` serves it; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "chatsite.asgi:application", "--port", str(port)]
    with log.open("wb") as output:
        environment = app_env(data_dir, **env)
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/accounts/login/", timeout=10).close()
                    break
                except OSError:  # refused while starting, or slow while it loads the model
                    if process.poll() is not None or time.monotonic() > deadline:
                        output_tail = log.read_text()[-3000:]
                        raise RuntimeError(f"The web server did not start:\n{output_tail}") from None
                    time.sleep(0.3)
            yield url
        finally:
            _stop(process)
