"""The chat page in headless Chromium against the app under its ASGI server and the test upstream."""

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import CORPUS, ingest
from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("browser-app")
    fake = _shared_fake_llm()
    llm = {"LLM_BASE_URL": fake.base_url, "LLM_API_KEY": "sk-test"}
    with asgi_server(data_dir, log=data_dir / "server.log", **llm) as url:
        yield url, data_dir


@pytest.fixture
def page(request, server, settings, monkeypatch) -> Page:
    # Playwright runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.INDEX_DIR = server[1] / "indexes"
    settings.MEDIA_ROOT = server[1] / "media"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860}, base_url=server[0])
        ARTIFACTS.mkdir(exist_ok=True)
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
        browser.close()


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("textarea[name=question]")).to_be_visible()
    page.wait_for_load_state("load")  # chat.js has run and listens for Enter


def test_it_streams_reasoning_then_collapses_it_and_shows_a_cited_answer(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    reasoning = "用户问的是 DeepSeek-V3 的参数量。资料 [1] 里写着 6710 亿（671B）参数，所以答案很明确。" * 3
    fake_llm.script(
        reasoning=reasoning, content="DeepSeek-V3 共有 **6710 亿（671B）** 参数 [1]。", delay=0.03
    )
    log_in(page, "alice", "alice-password-1")

    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")

    thinking = page.locator("details.reasoning.is-thinking")
    expect(thinking).to_be_visible(timeout=30_000)  # the server may still be loading its model
    expect(thinking).to_have_attribute("open", "")
    expect(thinking).to_contain_text("DeepSeek-V3")
    page.screenshot(path=str(ARTIFACTS / "chat-reasoning.png"))
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("6710 亿（671B）", timeout=30_000)
    pane = page.locator("details.reasoning").last
    expect(pane).not_to_have_attribute("open", "")
    expect(pane.locator(".reasoning-label")).to_contain_text("Thought for")
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"))

    pane.locator("summary").click()
    expect(pane).to_contain_text("6710 亿（671B）参数，所以答案很明确")
    answer.locator("a.cite").first.click()
    source = page.locator("li.source").first
    expect(source).to_contain_text("6710亿（671B）")
    expect(source.locator("a[href*='/download/']")).to_be_visible()


def test_it_shows_an_upstream_error_with_a_retry_button(page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(status=401)
    log_in(page, "alice", "alice-password-1")
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")
    expect(page.locator(".error-box")).to_contain_text("API key", timeout=30_000)
    expect(page.locator(".retry-button")).to_be_visible()
