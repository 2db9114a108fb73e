"""What the chat page shows while the documents are searched, before the model says anything."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest
from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def live_app(django_db_setup, tmp_path_factory):
    """The app whose every search takes seconds (tests/slow_search_asgi.py)."""
    data_dir = tmp_path_factory.mktemp("slow-search-app")
    llm = {"LLM_BASE_URL": _shared_fake_llm().base_url, "LLM_API_KEY": "sk-test"}
    app = "tests.slow_search_asgi:application"
    with asgi_server(data_dir, log=data_dir / "server.log", app=app, **llm) as url:
        yield url, data_dir


def test_it_says_it_is_searching_the_documents_until_the_passages_are_found(page: Page, user, kb, fake_llm):
    ingest(kb, CORPUS)
    fake_llm.script(
        reasoning="资料 [1] 说 671B。" * 5, content="DeepSeek-V3 共有 6710 亿参数 [1]。", delay=0.05
    )
    log_in(page, user)
    page.fill("textarea[name=question]", "DeepSeek-V3 有多少参数？")
    page.keyboard.press("Enter")

    searching = page.locator(".msg-assistant .typing-label")
    expect(searching).to_have_text("Searching documents…", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "chat-searching.png"))
    expect(page.locator("details.reasoning")).to_be_visible(timeout=30_000)
    expect(searching).to_have_count(0)
    expect(page.locator(".msg-assistant .answer").last).to_contain_text("6710 亿参数", timeout=30_000)
