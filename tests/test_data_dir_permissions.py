"""DATA_DIR (database, uploads, indexes, secret key) is private to the service's user."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from knowledge import services
from tests.processes import ROOT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def start_app(data_dir: Path) -> None:
    """Start the app's settings and open its database, from a shell with the usual umask (022)."""
    code = "from django.db import connection; connection.ensure_connection()"
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(data_dir)}
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_it_keeps_the_data_folder_and_its_files_to_its_user(tmp_path):
    data_dir = tmp_path / "data"
    start_app(data_dir)
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "db.sqlite3") == 0o600
    assert mode(data_dir / "secret_key") == 0o600


def test_it_closes_a_data_folder_an_earlier_version_left_open(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    start_app(data_dir)
    assert mode(data_dir) == 0o700


@pytest.mark.django_db
def test_uploads_are_readable_by_the_service_alone(kb):
    report = services.upload_files(
        knowledge_base=kb, files=[("policy.txt", ContentFile(b"Leave: 25 days."))], enqueue=False
    )
    stored = Path(report.created[0].file.path)
    assert mode(stored) == 0o600
    assert mode(stored.parent) == 0o700
