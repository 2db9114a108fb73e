"""The hit-testing page in the browser: a Chinese query of English documents, searched in translation."""

import pytest
from playwright.sync_api import expect

from tests.browser import ARTIFACTS, log_in
from tests.conftest import ingest
from tests.test_question_translation import HANDBOOK, MARKER, QUESTION, TRANSLATION

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_hit_testing_page_shows_the_translation_and_what_it_found(page, user, kb, fake_llm):
    fake_llm.reset()
    fake_llm.when(asks=MARKER, style="plain", content=TRANSLATION)
    ingest(kb, HANDBOOK)
    log_in(page, user)
    page.goto(f"/kb/{kb.slug}/hit-testing/?q={QUESTION}")
    expect(page.locator(".ht-translated")).to_have_text(TRANSLATION)
    first = page.locator("li.hit").first
    expect(first).to_contain_text("25 days of paid annual leave")
    expect(first.locator(".hit-via")).to_have_text("Found in translation")
    page.screenshot(path=str(ARTIFACTS / "hit-testing-translation.png"), full_page=True)
