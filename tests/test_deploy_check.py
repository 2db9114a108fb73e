"""`manage.py check --deploy` under the production settings (DEBUG off, a SECRET_KEY, the HTTPS
settings' defaults) reports nothing: a new warning is a deployment problem, or a check to silence in
chatsite/settings.py with its reason."""

import secrets
import subprocess
import sys

from tests.processes import ROOT


def deploy_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    production = {
        "PATH": "/usr/bin:/bin",
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "DATA_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "kb.example.com",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production | env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_it_is_clean_under_the_production_settings(tmp_path):
    result = deploy_check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_still_reports_a_real_problem(tmp_path):
    result = deploy_check(tmp_path, HSTS_SECONDS="0", DEBUG="true")
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W018" in result.stderr
