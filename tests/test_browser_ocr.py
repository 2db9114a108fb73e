"""A scanned PDF end to end in the browser, with real workers: uploaded in the admin, read page by page
by the OCR worker with its progress in the document list, while the ingest worker (one process) goes
on with a text document; then cited in the chat with its page."""

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from knowledge import services
from knowledge.models import Document
from tests.browser import ARTIFACTS, log_in
from tests.conftest import person
from tests.processes import celery_worker, wait_for
from tests.scans import render_page, scanned_pdf

pytestmark = pytest.mark.django_db(transaction=True)
FACT = "第三页：报销单须在出差结束后十个工作日内提交。"
PAGES = 6


@pytest.fixture(scope="module")
def workers(live_app):
    """The ingest and OCR workers on the app server's data folder; one ingest process only: were scans
    read there, the text document would wait for the scan."""
    data_dir = live_app[1]
    log = data_dir / "ocr-browser-worker.log"
    with celery_worker(data_dir, log=log, ocr=True, INGEST_WORKER_PROCESSES="1"):
        yield


def scan(tmp_path):
    texts = ["第一页：差旅申请须提前三天提交。", "第二页：机票须通过公司平台预订。", FACT]
    texts += [f"第{n}页：本页记录会议室预订的规则，编号{n}。" for n in range(4, PAGES + 1)]
    pages = [
        render_page(text, dpi=150, width_mm=150, height_mm=40, point_size=12, margin_mm=8) for text in texts
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
    scan_document = Document.objects.get()

    text = ContentFile(b"Travel is booked through the office portal.", name="travel.txt")
    (text_document,) = services.upload_files(knowledge_base=kb, files=[("travel.txt", text)]).created
    wait_for(lambda: Document.objects.get(id=text_document.id).status == "ready", 60, "the text document")
    scan_document.refresh_from_db()
    assert scan_document.status == "processing" and scan_document.ocr_pages_done < PAGES

    page.reload()
    state = page.locator(f".doc-state[data-document-id='{scan_document.id}']")
    expect(state).to_have_attribute("data-status", "ready", timeout=120_000)
    assert sorted(set(scan_document.chunks.values_list("page", flat=True))) == list(range(1, PAGES + 1))

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
