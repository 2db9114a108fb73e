"""Opening an uploaded original: the type detected at upload, shown only when inert, always sandboxed."""

import io

import docx
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from fpdf import FPDF

from knowledge import services
from knowledge.models import Document

ZH = "年假共有十五天。员工入职满一年后可以申请。"
PAGE = b"<!DOCTYPE html><html><body><script>fetch('/account/api-keys/')</script>Hi</body></html>"


def upload(kb, name: str, content: bytes) -> Document:
    report = services.upload_files(
        knowledge_base=kb, files=[(name, ContentFile(content, name=name))], enqueue=False
    )
    return report.created[0]


def download(client, document: Document):
    return client.get(reverse("knowledge:download", args=[document.id]))


def pdf_bytes() -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Staff get 25 days of vacation.")
    return bytes(pdf.output())


def docx_bytes() -> bytes:
    document, buffer = docx.Document(), io.BytesIO()
    document.add_paragraph("Staff get 25 days of vacation.")
    document.save(buffer)
    return buffer.getvalue()


def assert_sandboxed(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy


def test_it_shows_a_pdf_in_the_tab(client, user, kb):
    client.force_login(user)
    response = download(client, upload(kb, "handbook.pdf", pdf_bytes()))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="handbook.pdf"'
    assert_sandboxed(response)


def test_it_shows_gbk_text_as_utf8_under_its_chinese_name(client, user, kb):
    client.force_login(user)
    response = download(client, upload(kb, "年假.txt", ZH.encode("gbk")))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"".join(response.streaming_content).decode("utf-8") == ZH
    assert response["Content-Disposition"] == "inline; filename*=utf-8''%E5%B9%B4%E5%81%87.txt"
    assert_sandboxed(response)


def test_it_shows_markdown_and_utf16_text_as_utf8_plain_text(client, user, kb):
    client.force_login(user)
    markdown = download(client, upload(kb, "guide.md", f"# 年假\n\n{ZH}".encode()))
    utf16 = download(client, upload(kb, "notes.txt", ZH.encode("utf-16")))
    assert markdown["Content-Type"] == utf16["Content-Type"] == "text/plain; charset=utf-8"
    assert b"".join(utf16.streaming_content).decode("utf-8") == ZH


def test_it_downloads_html_as_a_sandboxed_attachment(client, user, kb):
    client.force_login(user)
    response = download(client, upload(kb, "page.html", PAGE))
    assert response["Content-Type"] == "text/html"
    assert response["Content-Disposition"] == 'attachment; filename="page.html"'
    assert_sandboxed(response)


def test_it_downloads_a_word_document_as_an_attachment(client, user, kb):
    client.force_login(user)
    response = download(client, upload(kb, "手册.docx", docx_bytes()))
    assert response["Content-Type"] == Document.objects.get().mime == services.extract.DOCX
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''%E6%89%8B%E5%86%8C.docx")
    assert_sandboxed(response)


def test_it_takes_the_type_from_the_content_not_a_title_renamed_to_html(client, user, kb):
    document = upload(kb, "notes.txt", b"<b>Hello</b> <script>alert(1)</script>")
    Document.objects.filter(id=document.id).update(title="notes.html")
    client.force_login(user)
    response = download(client, document)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'inline; filename="notes.html.txt"'


def test_it_downloads_a_page_saved_as_txt_as_an_attachment(client, user, kb):
    client.force_login(user)
    response = download(client, upload(kb, "saved.txt", PAGE))
    assert response["Content-Type"] == "text/html"
    assert response["Content-Disposition"] == 'attachment; filename="saved.txt.html"'


def test_it_downloads_a_file_that_is_not_what_its_name_says_as_opaque_bytes(client, user, kb):
    client.force_login(user)
    response = download(client, upload(kb, "scan.pdf", b"\x89PNG\r\n\x1a\n" + bytes(64)))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="scan.pdf"'


@pytest.mark.parametrize(
    "mime", ["", "text/html; charset=utf-8", "image/svg+xml", "application/xhtml+xml", "text/javascript"]
)
def test_it_serves_rows_of_any_stored_type_as_sandboxed_downloads(client, user, kb, mime):
    document = upload(kb, "page.html", PAGE)
    Document.objects.filter(id=document.id).update(mime=mime)
    client.force_login(user)
    response = download(client, document)
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert_sandboxed(response)


def test_it_lets_readers_of_the_knowledge_base_download_and_no_one_else(client, user, other, outsider, kb):
    document = upload(kb, "年假.txt", ZH.encode())
    for reader in (user, other):
        client.force_login(reader)
        assert download(client, document).status_code == 200
    client.force_login(outsider)
    assert download(client, document).status_code == 404
    client.logout()
    assert download(client, document).status_code == 302
