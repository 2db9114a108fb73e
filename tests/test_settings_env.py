import json
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from chatsite.env import env_bool, env_int, env_url
from tests.processes import ROOT


def test_it_names_the_variable_of_a_bad_boolean(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG")


def test_it_names_the_variable_of_a_bad_number(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "fifty")
    with pytest.raises(ImproperlyConfigured, match="MAX_UPLOAD_MB"):
        env_int("MAX_UPLOAD_MB", 50)


def test_it_names_the_variable_of_a_bad_url(monkeypatch):
    monkeypatch.setenv("LLM_BASE_URL", "localhost:11434")
    with pytest.raises(ImproperlyConfigured, match="LLM_BASE_URL"):
        env_url("LLM_BASE_URL", schemes=("http", "https"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://db/x"),
        ("CELERY_BROKER_URL", "nonsense"),
        ("DEBUG", "perhaps"),
        ("LLM_TIMEOUT_SECONDS", "0"),
        ("LLM_ANSWER_TOKENS", "a lot"),
        ("LLM_SYSTEM_MESSAGES", "sometimes"),
        ("FILE_STORAGE_OPTIONS", '["kb-originals"]'),
        ("QUOTA_QUESTIONS_PER_DAY", "-1"),
        ("QUOTA_SPEND_PER_MONTH_USD", "five dollars"),
        ("QUOTA_SPEND_PER_MONTH_USD", "nan"),
        ("QUOTA_EXEMPT_STAFF", "if asked"),
        ("AUDIT_RETENTION_DAYS", "31"),  # quotas count a month of questions from the audit log
        ("SOURCE_CA_BUNDLE", "/nonexistent/intranet-ca.pem"),
        ("SOURCE_SYNC_MAX_MINUTES", "360"),  # as long as a sync may run before it is taken as dead
    ],
)
def test_it_fails_at_start_naming_the_variable(tmp_path, name, value):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), name: value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert name in result.stderr.splitlines()[-1]


def test_it_says_why_a_short_audit_retention_is_refused(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "AUDIT_RETENTION_DAYS": "7"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[-1].endswith(
        "AUDIT_RETENTION_DAYS=7 is too short: quotas count a month of questions from the audit log, so keep "
        "at least 32 days (or 0 to keep events forever)."
    )


@pytest.mark.parametrize("days", ["0", "32"])
def test_it_accepts_keeping_audit_events_forever_or_a_month(tmp_path, days):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "AUDIT_RETENTION_DAYS": days}
    code = "from django.conf import settings as s; print(s.AUDIT_RETENTION_DAYS)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.splitlines()[-1] == days, result.stderr


def test_it_defaults_to_deepseek_when_only_a_key_is_set(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "DEEPSEEK_API_KEY": "sk-x"}
    code = "from django.conf import settings as s; print(s.LLM_BASE_URL, s.LLM_API_KEY, s.LLM_MODEL)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split()[-3:] == ["https://api.deepseek.com", "sk-x", "deepseek-reasoner"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[{", "not valid JSON"),
        ('[{"model": "m", "base_url": "ftp://host"}]', "base_url"),
        ('[{"model": "m", "base_url": "http://h/v1", "price": [1, 2]}]', "price"),
        ('[{"model": "m", "base_url": "http://h/v1", "colour": "red"}]', "unknown field"),
    ],
)
def test_a_bad_model_list_stops_the_app_naming_it(tmp_path, value, message):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "LLM_MODELS": value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "LLM_MODELS" in result.stderr.splitlines()[-1] and message in result.stderr.splitlines()[-1]


def test_model_keys_come_from_the_variables_the_list_names(tmp_path):
    models = json.dumps(
        [{"name": "Local R1", "model": "r1:8b", "base_url": "http://gpu:11434/v1", "api_key_env": "GPU_KEY"}]
    )
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "LLM_MODELS": models, "GPU_KEY": "sk-gpu"}
    code = "from chat import llm; m = llm.model_config(); print(m.name, m.api_key, m.temperature)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split()[-4:] == ["Local", "R1", "sk-gpu", "0.6"]


def test_a_local_model_with_no_room_for_passages_stops_the_app(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "LLM_BASE_URL": "http://127.0.0.1:8080/v1"}
    env |= {"LLM_MODEL": "r1-distill", "LLM_CONTEXT_TOKENS": "4096", "LLM_ANSWER_TOKENS": "4000"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "'r1-distill'" in last and "context_tokens=4096" in last and "answer_tokens=4000" in last


@pytest.mark.parametrize(("size", "expected"), [(None, "20"), ("5", "5"), ("0", "None")])
def test_postgresql_connections_come_from_a_pool_of_the_configured_size(tmp_path, size, expected):
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@db:5432/kb"}
    if size is not None:
        env["DATABASE_POOL_SIZE"] = size
    code = "from django.conf import settings as s; "
    code += "print(s.DATABASES['default'].get('OPTIONS', {}).get('pool'))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    pool = result.stdout.strip().splitlines()[-1]
    assert pool == "None" if expected == "None" else f"'max_size': {expected}," in pool


def test_it_keeps_originals_in_the_storage_named_by_the_environment(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path),
        "FILE_STORAGE_BACKEND": "django.core.files.storage.InMemoryStorage",
        "FILE_STORAGE_OPTIONS": '{"location": "originals"}',
    }
    code = "from django.core.files.storage import default_storage as s; print(s.location, type(s._wrapped))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    location, kind = result.stdout.splitlines()[-1].split(maxsplit=1)
    assert location.endswith("/originals") and "InMemoryStorage" in kind
