"""Opening a document at a cited passage: its text with the passage marked, a PDF at its page."""

import io

import docx
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.html import escape
from fpdf import FPDF

from chat.answering import citation_cards
from chat.citations import passage_citation
from knowledge import passages, retrieval, services, tasks
from knowledge.models import Chunk, Document
from tests.conftest import CORPUS, signed_in

CITED = "6710亿（671B）"


def upload(kb, name: str, content: bytes) -> Document:
    report = services.upload_files(
        knowledge_base=kb, files=[(name, ContentFile(content, name=name))], enqueue=False
    )
    tasks.ingest_documents([report.created[0].id])
    return report.created[0]


def view(client, chunk: Chunk, document: Document | None = None, passage: str | None = None):
    url = reverse("knowledge:passage", args=[(document or chunk.document).id])
    return client.get(url, {"passage": chunk.id if passage is None else passage})


def marked(chunk: Chunk) -> str:
    return f'aria-label="Cited passage">{escape(chunk.text)}</mark>'


def docx_bytes(sections: dict[str, str]) -> bytes:
    document, buffer = docx.Document(), io.BytesIO()
    for heading, text in sections.items():
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


@pytest.fixture
def cited(guide) -> Chunk:
    return guide.chunks.get(text__contains=CITED)


def test_it_shows_the_markdown_text_with_the_cited_passage_marked(client, user, cited):
    client.force_login(user)
    page = view(client, cited).content.decode()
    source = CORPUS.read_text()
    assert marked(cited) in page and 'id="cited"' in page
    assert escape(source[cited.char_start - 40 : cited.char_start]) in page
    assert escape(source[cited.char_end : cited.char_end + 40]) in page
    assert escape(source.partition("\n")[0]) in page  # the file's own first line, heading marks and all


def test_a_passage_cut_inside_a_code_block_shows_the_source_once(client, user, kb):
    """Such a chunk carries a fence line the source has elsewhere: the page shows the file's text as
    it is, with nothing repeated and no extra fence."""
    code = "\n".join(f"total_{i} = compute({i})  # step {i} of the long example" for i in range(150))
    source = f"# Example\n\nSome words first.\n\n```python\n{code}\n```\n\nAfter the code.\n"
    document = upload(kb, "example.md", source.encode())
    inside = document.chunks.filter(text__startswith="```python\ntotal_").exclude(text__contains="# Example")
    chunk = inside.order_by("char_start").last()
    assert chunk is not None and source[chunk.char_start : chunk.char_end] != chunk.text
    shown = passages.passage_in_context(document=document, chunk=chunk)
    assert shown.passage == source[chunk.char_start : chunk.char_end]
    assert shown.before + shown.passage + shown.after == source
    page = view(client.force_login(user) or client, chunk).content.decode()
    assert f'aria-label="Cited passage">{escape(shown.passage)}</mark>' in page
    assert page.count("```python") == 1


@pytest.mark.parametrize("opening", ["```python", "```"])
def test_a_passage_rebuilt_from_chunks_cut_inside_a_code_block_is_the_source(client, user, kb, opening):
    """With the original gone the page is rebuilt from the chunks, which carry added fence lines
    (a bare fence leaves open which line was added): each passage still shows the source, once."""
    code = "\n".join(f"total_{i} = compute({i})  # step {i} of the long example" for i in range(150))
    source = f"# Example\n\nSome words first.\n\n{opening}\n{code}\n```\n"  # the last chunk ends in a fence
    document = upload(kb, "example.md", source.encode())
    document.file.storage.delete(document.file.name)
    chunks = list(document.chunks.order_by("position"))
    assert any(source[c.char_start : c.char_end] != c.text for c in chunks)  # fence lines were added
    for chunk in chunks:
        shown = passages.passage_in_context(document=document, chunk=chunk)
        assert shown.passage == source[chunk.char_start : chunk.char_end]
        assert shown.before + shown.passage + shown.after == source.strip()


def test_it_links_each_citation_card_to_its_passage(client, user, kb, guide):
    found = retrieval.search(query="DeepSeek-V3 有多少参数？", knowledge_bases=[kb], top_k=1).passages[0]
    (card,) = citation_cards([passage_citation(1, found)])
    assert card["document_url"] == f"/documents/{guide.id}/view/?passage={found.chunk_id}#cited"
    client.force_login(user)
    assert marked(Chunk.objects.get(id=found.chunk_id)) in client.get(card["document_url"]).content.decode()


def test_it_shows_the_document_text_as_text_never_as_markup(client, user, kb):
    document = upload(kb, "notes.md", b"# Notes\n\n<script>alert(1)</script> <b>bold</b> & more\n")
    client.force_login(user)
    response = view(client, document.chunks.get())
    page = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_it_rebuilds_a_word_documents_text_around_the_passage(client, user, kb):
    sections = {"Leave": "Staff get 25 days.", "Parking": "Parking is free.", "Badges": "Badges last a year."}
    document = upload(kb, "handbook.docx", docx_bytes(sections))
    parking = document.chunks.get(text__contains="Parking is free.")
    client.force_login(user)
    page = view(client, parking).content.decode()
    before, _, after = page.partition(marked(parking))
    assert "Staff get 25 days." in before and "Leave" in before and "Badges last a year." in after


def test_it_rebuilds_only_the_text_near_the_passage(client, user, kb, monkeypatch):
    monkeypatch.setattr(passages, "CONTEXT_CHARS", 5)
    sections = {"Leave": "Staff get 25 days.", "Parking": "Parking is free.", "Badges": "Badges last a year."}
    document = upload(kb, "handbook.docx", docx_bytes(sections))
    client.force_login(user)
    page = view(client, document.chunks.get(text__contains="Parking is free.")).content.decode()
    assert "Earlier text is not shown here" in page and "Later text is not shown here" in page
    assert "Staff get" not in page and "Badges last" not in page


def test_it_shows_the_passage_from_its_chunks_when_the_stored_file_is_gone(client, user, cited):
    cited.document.file.storage.delete(cited.document.file.name)
    client.force_login(user)
    assert marked(cited) in view(client, cited).content.decode()


def test_it_shows_a_long_document_around_the_passage_only(client, user, cited, monkeypatch):
    monkeypatch.setattr(passages, "CONTEXT_CHARS", 300)
    client.force_login(user)
    page = view(client, cited).content.decode()
    assert "Earlier text is not shown here" in page and "Later text is not shown here" in page
    source = CORPUS.read_text()
    assert escape(source[cited.char_start - 100 : cited.char_start]) in page
    assert escape(source.partition("\n")[0]) not in page


def test_it_opens_a_pdf_at_the_cited_page(client, user, kb):
    document = upload(kb, "handbook.pdf", pdf_bytes(["Leave is 25 days.", "Parking is free for staff."]))
    client.force_login(user)
    response = view(client, document.chunks.get(page=2))
    download = reverse("knowledge:download", args=[document.id])
    assert (response.status_code, response["Location"]) == (302, f"{download}#page=2")


def test_it_speaks_chinese(client, user, cited):
    client.force_login(user)
    page = client.get(
        reverse("knowledge:passage", args=[cited.document_id]),
        {"passage": cited.id},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    ).content.decode()
    assert "引用的段落" in page and "打开原文件" in page


def test_it_shows_the_passage_to_readers_of_the_knowledge_base_and_no_one_else(
    client, user, other, outsider, cited
):
    for reader in (user, other):
        client.force_login(reader)
        assert view(client, cited).status_code == 200
    client.force_login(outsider)
    assert view(client, cited).status_code == 404
    client.logout()
    assert view(client, cited).status_code == 302


def test_a_passage_of_another_document_is_not_found(client, user, kb, cited):
    notes = upload(kb, "notes.txt", b"Parking is free.")
    client.force_login(user)
    assert view(client, cited, document=notes).status_code == 404
    assert view(client, cited, passage=str(Chunk.objects.order_by("id").last().id + 1)).status_code == 404


@pytest.mark.parametrize("passage", ["", "abc", "-1", "1.5", "²", "9" * 30, "1\x00"])
def test_it_refuses_a_passage_that_is_not_an_id(client, user, cited, passage):
    client.force_login(user)
    response = view(client, cited, passage=passage)
    assert response.status_code == 400 and "passage" in response.json()["error"]["message"]


def test_opening_passages_is_limited_per_user(settings, user, other, cited):
    settings.PASSAGE_RATE_PER_USER = "2/min"
    client = signed_in(user)
    opened = [view(client, cited) for _ in range(3)]
    assert [response.status_code for response in opened] == [200, 200, 429]
    assert 0 < int(opened[-1]["Retry-After"]) <= 60
    page = opened[-1].content.decode()
    assert "<h1>Too many requests</h1>" in page and f'href="{reverse("chat:home")}"' in page
    assert "/static/css/app.css" in page
    url = reverse("knowledge:passage", args=[cited.document_id])
    chinese = client.get(url, {"passage": cited.id}, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "<h1>请求过多</h1>" in chinese
    assert view(signed_in(other), cited).status_code == 200
