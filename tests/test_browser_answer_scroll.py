"""A finished answer taller than the view opens at its start, not its end: as it finishes, and when
its conversation opens. Retrieval-only answers (no model configured) arrive whole and are tall."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest
from tests.processes import asgi_server
from tests.test_browser_chat import ask

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def live_app(django_db_setup, tmp_path_factory):
    """The app with no language model configured (the test settings set none)."""
    data_dir = tmp_path_factory.mktemp("retrieval-only-app")
    with asgi_server(data_dir, log=data_dir / "server.log") as url:
        yield url, data_dir


def assert_answer_start_in_view(page: Page) -> None:
    thread = page.locator("#thread").bounding_box()
    answer = page.locator(".msg-assistant").last.bounding_box()
    assert thread and answer and answer["height"] > thread["height"]  # taller than the view
    assert thread["y"] <= answer["y"] < thread["y"] + 100, (thread, answer)
    expect(page.locator("#jump")).to_be_visible()  # and the way down to its end


def test_a_long_retrieval_only_answer_is_shown_from_its_start(page, user, kb):
    ingest(kb, CORPUS)
    log_in(page, user)
    ask(page, "DeepSeek-V3 有多少参数？怎么调用？")
    answer = page.locator(".msg-assistant").last
    expect(answer.locator(".msg-actions")).to_be_visible(timeout=60_000)
    expect(answer.locator(".answer .notice")).to_contain_text("No language model is configured")
    page.wait_for_timeout(200)  # any scrolling left to do
    assert_answer_start_in_view(page)
    page.screenshot(path=str(ARTIFACTS / "retrieval-only-answer-start.png"))
    page.reload()
    expect(page.locator(".msg-assistant .msg-actions")).to_be_visible()
    page.wait_for_load_state("load")
    assert_answer_start_in_view(page)
