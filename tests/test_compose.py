"""docker-compose.yml and the reverse proxy's configuration (deploy/nginx.conf), checked without Docker:
the services and how they stop, and nginx's own test of its configuration, set up for streamed answers."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from chatsite.web_server import shutdown_seconds

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def _default(value: str) -> str:
    """The default of a `${NAME:-default}` setting, as Compose reads it."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    assert match, value
    return match.group(1)


def _directives(name: str) -> list[str]:
    """The arguments of each `name` directive in deploy/nginx.conf."""
    return re.findall(rf"^\s*{name}\s+([^;]*);", NGINX_CONF.read_text(), re.MULTILINE)


def test_it_runs_the_web_replicas_the_proxy_and_each_worker_as_services():
    assert {"migrate", "web", "nginx", "worker", "ocr", "sweeper", "redis", "postgres"} <= set(SERVICES)
    assert SERVICES["web"]["deploy"]["replicas"] == "${WEB_REPLICAS:-2}"
    queues = [
        SERVICES[name]["command"][SERVICES[name]["command"].index("--queues") + 1]
        for name in ("worker", "ocr", "sweeper")
    ]
    assert sorted(queues) == ["celery", "ocr", "sweep"]
    assert "--beat" in SERVICES["sweeper"]["command"]


def test_only_the_proxy_is_published_and_it_has_the_repositorys_configuration():
    assert [name for name, service in SERVICES.items() if "ports" in service] == ["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in SERVICES["nginx"]["volumes"]
    assert SERVICES["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_docker_waits_for_the_web_processes_to_drain_their_answers():
    web = SERVICES["web"]
    grace = int(_default(web["environment"]["SHUTDOWN_GRACE_SECONDS"]))
    stop_seconds = int(_default(web["stop_grace_period"]).removesuffix("s"))
    assert stop_seconds >= shutdown_seconds(grace)
    assert web["environment"]["CACHE_URL"].startswith("redis://")  # stops and rate limits cross containers


def test_the_image_serves_through_the_web_server_module():
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert cmd.startswith('CMD ["python", "-m", "chatsite.web_server"')


def test_the_proxy_passes_streamed_answers_on_as_they_arrive():
    assert _directives("proxy_buffering") == ["off"]
    assert _directives("proxy_http_version") == ["1.1"]
    assert _directives("proxy_set_header Connection") == ['""']
    assert _directives("keepalive") and int(_directives("keepalive")[0]) > 0
    assert all("text/event-stream" not in types for types in _directives("gzip_types"))
    timeout = _directives("proxy_read_timeout")[0]
    assert int(timeout.removesuffix("s")) >= 600


def test_nginx_accepts_the_configuration(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: .ci/run installs nginx-light")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    # The replicas' name resolves inside Compose's network only: here the same upstream on loopback.
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.read_text().replace("server web:8000", "server 127.0.0.1:8000"))
    result = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
