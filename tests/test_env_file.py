"""Settings read a file of variables (ENV_FILE, default .env), and the tests read none: a developer's
.env must not change what the suite tests."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def setting(module: str, name: str, env: dict[str, str], tmp_path: Path) -> str:
    code = f"import {module} as s; print(s.{name})"
    environment = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), **env}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture
def env_file(tmp_path) -> Path:
    path = tmp_path / "developer.env"
    path.write_text("LOGIN_FAILURE_LIMIT=3\n")
    return path


def test_the_settings_read_the_file_env_file_names(env_file, tmp_path):
    assert setting("chatsite.settings", "AXES_FAILURE_LIMIT", {"ENV_FILE": str(env_file)}, tmp_path) == "3"
    assert setting("chatsite.settings", "AXES_FAILURE_LIMIT", {"ENV_FILE": ""}, tmp_path) == "10"


def test_the_test_settings_read_no_env_file(env_file, tmp_path):
    assert setting("tests.settings", "AXES_FAILURE_LIMIT", {"ENV_FILE": str(env_file)}, tmp_path) == "10"
