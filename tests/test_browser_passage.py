"""Opening a Chinese Markdown document at a cited passage, in headless Chromium, in both languages."""

import pytest
from playwright.sync_api import expect

from knowledge.originals import citation_url
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(("language", "heading"), [("en-US", "Cited passage"), ("zh-CN", "引用的段落")])
def test_it_opens_the_document_with_the_cited_passage_highlighted_in_view(page, user, kb, language, heading):
    guide = ingest(kb, CORPUS)
    chunk = guide.chunks.get(text__contains="6710亿（671B）")
    page.set_extra_http_headers({"Accept-Language": language})
    log_in(page, user)
    page.goto(citation_url({"document_id": guide.id, "chunk_id": chunk.id}))
    expect(page.locator(".page-bar-title")).to_have_text(heading)
    cited = page.locator("mark#cited")
    expect(cited).to_contain_text("6710亿（671B）")
    expect(cited).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0  # scrolled down the document to the passage
    box = cited.bounding_box()
    assert box is not None and box["y"] > page.locator(".page-bar").bounding_box()["height"]
    expect(page.locator(".page-bar")).to_be_in_viewport()  # still on top, the way back to chat
    page.screenshot(path=str(ARTIFACTS / f"passage-{language}.png"))
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"passage-top-{language}.png"))
