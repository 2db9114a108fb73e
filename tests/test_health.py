"""/healthz and /readyz: answered before sessions, sign-in and the host check; /readyz names each check."""

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

from knowledge import embedding, index, index_log, index_sync, search_index
from tests.conftest import PRODUCTS, ingest_texts
from tests.processes import ROOT, _stop, app_env, free_port, use_data_dir

FOREIGN_HOST = "10.1.2.3:8000"  # a probe calls the node by its address, which ALLOWED_HOSTS does not list


@pytest.fixture
def warm() -> None:
    embedding.warm_up()  # as the server's start does; the model is loaded for the session already


def test_it_answers_healthz_without_the_database_or_a_session(client):
    # No django_db mark: any query would fail the test.
    response = client.get("/healthz", HTTP_HOST=FOREIGN_HOST)
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert not response.cookies


@pytest.mark.django_db
def test_it_is_ready_when_the_database_broker_and_model_are(client, warm):
    response = client.get("/readyz", HTTP_HOST=FOREIGN_HOST)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {
            "database": {"ok": True, "detail": "ok"},
            "broker": {"ok": True, "detail": "ok"},
            "embedding_model": {"ok": True, "detail": "loaded"},
            "index": {"ok": True, "detail": f"current (change {index_log.latest()})"},
        },
    }
    assert not response.cookies


def test_a_node_behind_the_database_catches_up_before_it_is_ready(client, warm, kb, tmp_path, settings):
    ingest_texts(kb, tmp_path, PRODUCTS)  # logs its chunks; this node's folder is then switched for a new one
    use_data_dir(settings, tmp_path / "later-node")
    index._cache.clear()
    assert not index_sync.status().loaded
    response = client.get("/readyz")
    assert response.status_code == 200
    current = {"ok": True, "detail": f"current (change {index_log.latest()})"}
    assert response.json()["checks"]["index"] == current
    assert index_sync.status().lag == 0
    assert search_index.backend().ids(kb.id) == set(kb.chunks.values_list("id", flat=True)) != set()


@pytest.mark.django_db
def test_it_is_not_ready_when_the_broker_is_unreachable(client, warm):
    closed = f"redis://:secret-password@127.0.0.1:{free_port()}/0"
    with override_settings(CELERY_BROKER_URL=closed):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["database"]["ok"]
    assert body["checks"]["broker"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert "secret" not in response.content.decode()


@pytest.mark.django_db
def test_it_is_not_ready_while_the_model_loads(client, monkeypatch):
    monkeypatch.setattr(embedding, "_warm", threading.Event())  # a process whose warm-up has not ended
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["embedding_model"] == {"ok": False, "detail": "loading"}


@pytest.mark.django_db
def test_it_checks_the_embedded_brokers_folder(client, warm, tmp_path):
    folder = tmp_path / "broker"
    options = {"data_folder_in": str(folder)}
    with override_settings(
        CELERY_BROKER_URL="filesystem://localhost/", CELERY_BROKER_TRANSPORT_OPTIONS=options
    ):
        missing = client.get("/readyz").json()["checks"]["broker"]
        folder.mkdir()
        time.sleep(2.1)  # the broker's state is reused for two seconds
        there = client.get("/readyz").json()["checks"]["broker"]
    assert missing == {"ok": False, "detail": "folder missing or not writable"}
    assert there == {"ok": True, "detail": "ok (folder)"}


def test_it_leaves_other_methods_to_the_urls(client, db):
    assert client.post("/healthz").status_code == 404


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_a_server_whose_database_and_broker_are_down_is_alive_but_not_ready(tmp_path):
    port, down = free_port(), free_port()
    env = app_env(
        tmp_path,
        DATABASE_URL=f"postgres://kbchat:secret-password@127.0.0.1:{down}/kbchat",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{down}/0",
    )
    command = [sys.executable, "-m", "uvicorn", "chatsite.asgi:application", "--port", str(port)]
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 300  # it listens once the model is loaded: minutes when busy
        while (health := _health(port)) is None and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert health == (200, b"ok\n"), (tmp_path / "server.log").read_text()[-3000:]
        status, body = _get(f"http://127.0.0.1:{port}/readyz")
    finally:
        _stop(server)
    checks = json.loads(body)["checks"]
    assert status == 503
    assert checks["database"]["ok"] is False and checks["broker"]["ok"] is False
    assert checks["index"] == {"ok": False, "detail": "database unreachable"}
    assert checks["embedding_model"] == {"ok": True, "detail": "loaded"}  # warmed up by the start-up
    assert b"secret" not in body and str(down).encode() not in body


def _health(port: int) -> tuple[int, bytes] | None:
    try:
        return _get(f"http://127.0.0.1:{port}/healthz")
    except OSError:  # refused until the model is loaded
        return None
