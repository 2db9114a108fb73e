"""A scanned PDF end to end in the browser: uploaded in the admin, read page by page by the OCR worker
with its progress in the document list, then cited in the chat with its page."""

import pytest
from playwright.sync_api import expect

from knowledge.models import Document
from tests.browser import ARTIFACTS, log_in
from tests.conftest import person
from tests.processes import celery_worker
from tests.scans import render_page, scanned_pdf

pytestmark = pytest.mark.django_db(transaction=True)
FACT = "第三页：报销单须在出差结束后十个工作日内提交。"


@pytest.fixture(scope="module")
def workers(live_app):
    """The ingest and OCR workers on the app server's data folder."""
    data_dir = live_app[1]
    with celery_worker(data_dir, log=data_dir / "ocr-browser-worker.log", ocr=True):
        yield


def scan(tmp_path):
    pages = [
        render_page(text, dpi=150, width_mm=150, height_mm=40, point_size=12, margin_mm=8)
        for text in ("第一页：差旅申请须提前三天提交。", "第二页：机票须通过公司平台预订。", FACT)
    ]
    path = tmp_path / "差旅制度（扫描件）.pdf"
    path.write_bytes(scanned_pdf(pages))
    return path


def test_a_scan_uploaded_in_the_admin_is_read_and_cited_with_its_page(
    workers, page, user, kb, fake_llm, tmp_path
):
    root = person("root")
    root.is_staff = root.is_superuser = True
    root.save()
    log_in(page, root)
    page.goto("/admin/knowledge/document/add/")
    page.select_option("select[name=knowledge_base]", str(kb.id))
    page.set_input_files("input[name=files]", str(scan(tmp_path)))
    page.click("input[name=_upload]")

    page.goto("/admin/knowledge/document/")
    label = page.locator(".doc-progress-label").first
    expect(label).to_contain_text("OCR page", timeout=60_000)  # the list polls every 2 s
    page.screenshot(path=str(ARTIFACTS / "admin-ocr-progress.png"))
    expect(page.locator(".doc-state").first).to_have_attribute("data-status", "ready", timeout=120_000)
    document = Document.objects.get()
    assert sorted(set(document.chunks.values_list("page", flat=True))) == [1, 2, 3]

    page.context.clear_cookies()
    fake_llm.script(reasoning="第三页写了期限。", content="报销单须在出差结束后十个工作日内提交 [1]。")
    log_in(page, user)
    page.fill("textarea[name=question]", "报销单要在多久内提交？")
    page.keyboard.press("Enter")
    answer = page.locator(".msg-assistant .answer").last
    expect(answer).to_contain_text("十个工作日", timeout=60_000)
    answer.locator("a.cite").first.click()
    source = page.locator("li.source").first
    expect(source).to_contain_text("十个工作日内提交")
    expect(source.locator(".source-loc")).to_have_text("p. 3")
    page.screenshot(path=str(ARTIFACTS / "chat-ocr-citation.png"))
