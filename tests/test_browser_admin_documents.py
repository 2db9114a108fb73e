"""The admin's document list on a 1366×768 laptop screen: every column shows in full."""

import pytest
from playwright.sync_api import expect

from knowledge.models import Document
from tests.browser import ARTIFACTS, log_in
from tests.conftest import CORPUS, ingest, person

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_document_list_fits_a_laptop_screen(page, kb):
    root = person("root")
    root.is_staff = root.is_superuser = True
    root.save()
    ingest(kb, CORPUS, name="DeepSeek-R1 部署与调用指南（内部版，2025 年修订）.md")
    Document.objects.create(
        knowledge_base=kb,
        title="annual-report-2024-final-version-for-the-board.pdf",
        sha256="failed",
        status="failed",
        error="The PDF is encrypted: remove its password and upload it again.",
    )
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, root)
    page.goto("/admin/knowledge/document/")
    last = page.locator("#result_list thead th").last
    expect(last).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-documents-1366.png"))
    results = page.locator("#changelist .results")
    widths = results.evaluate("node => [node.scrollWidth, node.clientWidth]")
    assert widths[0] <= widths[1], f"the list scrolls sideways: {widths}"
    for cell in [last, page.locator("#result_list tbody tr td").last]:
        box, frame = cell.bounding_box(), results.bounding_box()
        assert box and frame and box["x"] + box["width"] <= frame["x"] + frame["width"] + 0.5
