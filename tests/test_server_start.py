"""The web server loads the embedding model and its probe before it takes the first request."""

import urllib.request

import pytest

from tests.processes import asgi_server


def log_lines(tmp_path, **env: str) -> list[str]:
    log = tmp_path / "server.log"
    with asgi_server(tmp_path, log=log, **env) as url:
        urllib.request.urlopen(f"{url}/accounts/login/", timeout=30).close()
    return log.read_text().splitlines()


def first_line(lines: list[str], text: str) -> int:
    found = [number for number, line in enumerate(lines) if text in line]
    assert found, f"no line with {text!r} in the server's log"
    return found[0]


def test_it_loads_and_probes_the_model_before_it_listens(live_app):
    # The log of the app server the browser tests share: it was started as any other (asgi_server).
    url, data_dir = live_app
    urllib.request.urlopen(f"{url}/accounts/login/", timeout=30).close()
    lines = (data_dir / "server.log").read_text().splitlines()
    loaded = first_line(lines, "loaded and probed (skill per script: {'latin'")
    assert loaded < first_line(lines, "Uvicorn running on") < first_line(lines, "GET /accounts/login/")


def test_it_does_not_start_when_the_model_cannot_load(django_db_setup, tmp_path):
    with pytest.raises(RuntimeError, match="did not start"):
        log_lines(tmp_path, EMBEDDING_MODEL=str(tmp_path / "no-such-model"))
    assert "Application startup failed" in (tmp_path / "server.log").read_text()
