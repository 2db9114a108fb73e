import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from chatsite import web_server
from chatsite import workers as workers_module


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Run the ASGI web server (WEB_CONCURRENCY processes) and the Celery workers together; "
        "Ctrl-C or SIGTERM stops them all, letting answers streaming finish (SHUTDOWN_GRACE_SECONDS)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--workers", type=int, help="Web processes (default: WEB_CONCURRENCY).")
        parser.add_argument(
            "--web-only", action="store_true", help="Only the web server: the workers run elsewhere."
        )

    def handle(self, *args, host: str, port: str, workers: int | None, web_only: bool, **options) -> None:
        python = sys.executable
        commands = {"web": web_server.command(python, host=host, port=port, workers=workers)}
        if not web_only:
            commands |= {
                "worker": workers_module.ingest_worker(python),
                "ocr": workers_module.ocr_worker(python),
                "sweeper": workers_module.sweeper(python),
            }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        processes_count = workers or settings.WEB_CONCURRENCY
        self.stdout.write(
            f"Knowledge Chat on http://{host}:{port}/ ({processes_count} web processes"
            + ("" if web_only else " and the workers")
            + "; Ctrl-C stops them)"
        )
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = next(name for name, p in processes.items() if p.poll() is not None)
            self.stderr.write(f"The {stopped} process stopped; stopping the rest.")
        except KeyboardInterrupt:
            pass
        finally:
            _stop_all(processes)


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to the web server, which drains its answers (a second SIGINT would cut them short);
    SIGINT, a warm shutdown, to the Celery workers."""
    for name, process in processes.items():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM if name == "web" else signal.SIGINT)
    for name, process in processes.items():
        wait = web_server.shutdown_seconds(settings.SHUTDOWN_GRACE_SECONDS) if name == "web" else 15
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
