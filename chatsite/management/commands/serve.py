import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from chatsite import metrics_dir, workers


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the ASGI web server and the Celery workers together; Ctrl-C stops them all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host: str, port: str, **options) -> None:
        metrics_dir.prepare(settings.DATA_DIR)  # before the processes that write metrics start
        python = sys.executable
        commands = {
            "web": [python, "-m", "uvicorn", "chatsite.asgi:application", "--host", host, "--port", port],
            "worker": workers.ingest_worker(python),
            "ocr": workers.ocr_worker(python),
            "sweeper": workers.sweeper(python),
        }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(
            f"Knowledge Chat on http://{host}:{port}/ (Ctrl-C stops the web server and the workers)"
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
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
