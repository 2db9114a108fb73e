"""The chat page says which model answered when the one asked was unavailable, as it streams and
after a reload, in headless Chromium against the app under its ASGI server and the test upstream."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest
from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)
NOTE = "Answered by R1 B because R1 A was unavailable."


@pytest.fixture(scope="module")
def live_app(django_db_setup, tmp_path_factory):
    """The app with R1 A, which falls back to R1 B, both on the test upstream."""
    data_dir = tmp_path_factory.mktemp("fallback-app")
    base_url = _shared_fake_llm().base_url
    models = [
        {"name": "R1 A", "model": "r1-a", "base_url": base_url, "retries": 0, "fallback": ["R1 B"]},
        {"name": "R1 B", "model": "r1-b", "base_url": base_url},
    ]
    with asgi_server(data_dir, log=data_dir / "server.log", LLM_MODELS=json.dumps(models)) as url:
        yield url, data_dir


def test_it_notes_the_fallback_that_answered_as_it_streams_and_after_a_reload(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.when(model="r1-a", status=503)
    fake_llm.script(content="DeepSeek-V3 共有 6710 亿参数 [1]。")
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")

    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".answer")).to_contain_text("6710 亿", timeout=30_000)
    expect(answer.locator(".grounding-note.is-fallback")).to_have_text(NOTE)
    page.screenshot(path=str(ARTIFACTS / "chat-fallback-model.png"))
    page.reload()
    expect(page.locator(".msg-assistant .grounding-note.is-fallback")).to_have_text(NOTE)
