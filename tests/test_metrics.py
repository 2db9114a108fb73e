"""/metrics: who may read it, and the figures it shows counted from real requests and answers."""

import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from chatsite import metrics, metrics_dir
from knowledge import index_sync, ingestion, services
from tests.api_fixtures import key_for
from tests.conftest import QUESTION, person, signed_in

OUTSIDE = "203.0.113.9"  # an address from off this machine (TEST-NET-3)
TOKEN = "metrics-token-1"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in an exposition; 0 when it is not there yet."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


def scrape(client: Client | None = None) -> str:
    response = (client or Client()).get("/metrics")  # from 127.0.0.1, as the test client is
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def staff(db) -> User:
    member = person("sam")
    member.is_staff = True
    member.save(update_fields=["is_staff"])
    return member


@pytest.mark.django_db
def test_it_is_read_with_the_token_from_anywhere(settings):
    settings.METRICS_TOKEN = TOKEN
    response = Client(REMOTE_ADDR=OUTSIDE).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "kbchat_http_requests_total" in response.content.decode()


@pytest.mark.django_db
def test_it_is_hidden_with_a_wrong_token(settings):
    settings.METRICS_TOKEN = TOKEN
    response = Client(REMOTE_ADDR=OUTSIDE).get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_no_token_opens_it_while_the_setting_is_empty(settings):
    settings.METRICS_TOKEN = ""
    response = Client(REMOTE_ADDR=OUTSIDE).get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404


def test_it_is_read_by_staff_from_anywhere(staff):
    client = signed_in(staff)
    client.defaults["REMOTE_ADDR"] = OUTSIDE
    assert client.get("/metrics").status_code == 200


def test_it_is_hidden_from_other_signed_in_users(user):
    client = signed_in(user)
    client.defaults["REMOTE_ADDR"] = OUTSIDE
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_it_is_hidden_from_anonymous_callers_off_this_machine():
    assert Client(REMOTE_ADDR=OUTSIDE).get("/metrics").status_code == 404


@pytest.mark.django_db
def test_it_is_read_from_loopback_unless_that_is_turned_off(settings):
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    settings.METRICS_LOOPBACK = False
    assert Client().get("/metrics").status_code == 404


@pytest.mark.django_db
def test_it_counts_requests_by_url_name_not_by_path(client):
    login = {"name": "kbchat_http_requests_total", "route": "login", "method": "GET", "status": "200"}
    unmatched = {"name": "kbchat_http_requests_total", "route": "unmatched", "method": "GET", "status": "404"}
    before = scrape()
    client.get(reverse("login"))
    client.get("/no-such-page-12345/")
    after = scrape()
    assert sample(after, **login) == sample(before, **login) + 1
    assert sample(after, **unmatched) == sample(before, **unmatched) + 1
    assert sample(after, "kbchat_http_request_duration_seconds_count", route="login") > 0
    assert "no-such-page-12345" not in after


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sync_orm_in_async")
async def test_it_counts_an_answer_in_flight_and_times_its_first_token(async_client, user, kb, guide, llm):
    first_tokens = {"name": "kbchat_answer_first_token_seconds_count", "stream": "events"}
    in_flight = {"name": "kbchat_answers_in_flight", "stream": "events"}
    before = await ascrape(async_client)
    llm.script(reasoning="想一想。", content="6710 亿 [1]。", delay=0.05)
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("chat:ask"), {"question": QUESTION, "knowledge_base": kb.id})
    body = [part async for part in _until_first_part(response)]
    during = await ascrape(async_client)
    body += [part async for part in response.streaming_content]
    after = await ascrape(async_client)
    assert b"event: done" in b"".join(body)
    assert sample(during, **in_flight) == sample(before, **in_flight) + 1
    assert sample(after, **in_flight) == sample(before, **in_flight)
    assert sample(after, **first_tokens) == sample(before, **first_tokens) + 1


async def ascrape(async_client) -> str:
    response = await async_client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


async def _until_first_part(response):
    async for part in response.streaming_content:
        yield part
        return


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sync_orm_in_async")
async def test_it_times_the_first_token_of_a_v1_stream(async_client, user, guide, llm):
    first_tokens = {"name": "kbchat_answer_first_token_seconds_count", "stream": "openai"}
    in_flight = {"name": "kbchat_answers_in_flight", "stream": "openai"}
    before = await ascrape(async_client)
    llm.script(reasoning="想一想。", content="6710 亿 [1]。")
    asked = {"model": "kb:guide", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    response = await async_client.post(
        "/v1/chat/completions",
        json.dumps(asked),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key_for(user)}"},
    )
    body = b"".join([part async for part in response.streaming_content])
    after = await ascrape(async_client)
    assert body.endswith(b"data: [DONE]\n\n")
    assert sample(after, **first_tokens) == sample(before, **first_tokens) + 1
    assert sample(after, **in_flight) == sample(before, **in_flight)


@pytest.mark.django_db
def test_it_shows_the_ingestion_queue_and_rate_from_the_database(kb):
    report = services.upload_files(
        knowledge_base=kb,
        files=[(f"{n}.txt", ContentFile(f"Note {n}: parking is free.".encode())) for n in range(3)],
        enqueue=False,
    )
    queued = scrape()
    ingestion.ingest_documents(document_ids=[report.created[0].id])
    later = scrape()
    assert sample(queued, "kbchat_ingestion_documents", status="queued") == 3
    assert sample(queued, "kbchat_ingestion_finished_recently", status="ready") == 0
    assert sample(later, "kbchat_ingestion_documents", status="queued") == 2
    assert sample(later, "kbchat_ingestion_finished_recently", status="ready") == 1


@pytest.mark.django_db
def test_it_shows_how_far_this_nodes_index_is_behind_the_database(kb):
    index_sync.catch_up()
    report = services.upload_files(
        knowledge_base=kb, files=[("note.txt", ContentFile(b"Parking is free on Fridays."))], enqueue=False
    )
    ingestion.ingest_documents(document_ids=[report.created[0].id])
    behind = sample(scrape(), "kbchat_index_lag_changes")
    index_sync.catch_up()
    assert behind == kb.chunks.count() > 0  # one logged change per chunk added
    assert sample(scrape(), "kbchat_index_lag_changes") == 0


COUNT_ONE = (
    "from chatsite import metrics; "
    "metrics.REQUESTS.labels('chat:ask', 'POST', '200').inc(); "
    "metrics.IN_FLIGHT.labels('events').inc()"
)


def test_processes_add_up_in_the_emptied_folder(tmp_path, monkeypatch, settings):
    monkeypatch.setenv(metrics_dir.VARIABLE, "")  # restored after the test, as prepare sets it
    stale = tmp_path / "metrics" / "counter_1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by an earlier run")
    metrics_dir.prepare(tmp_path)
    assert not stale.exists()
    for _process in range(2):
        subprocess.run([sys.executable, "-c", COUNT_ONE], check=True, env=dict(os.environ))
    settings.METRICS_COLLECTORS = []
    samples = [found for family in metrics.registry().collect() for found in family.samples]
    requests = [(s.labels["route"], s.value) for s in samples if s.name == "kbchat_http_requests_total"]
    assert requests == [("chat:ask", 2.0)]
    # Answers in flight are live figures: a process that has ended has none.
    assert sum(s.value for s in samples if s.name == "kbchat_answers_in_flight") == 0
