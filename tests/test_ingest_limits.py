"""What one document may cost to read: pages, characters, unpacked Office parts, time; and how the
groups of a task are formed and given up, so that one document never holds back the others."""

import io
import zipfile

import docx
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile

from knowledge import extract, ingestion, services, tasks
from knowledge.formats import office
from knowledge.models import Document
from tests.conftest import ingest
from tests.hostile_files import many_pages_pdf, with_declared_size

MB = 1024 * 1024


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def word_file(body_xml_chunks, *, chunk_count: int) -> bytes:
    """A real .docx whose document part is the given XML chunk repeated, written in blocks."""
    base = io.BytesIO()
    docx.Document().save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info, source.read(info))
                continue
            with target.open("word/document.xml", "w") as part:
                part.write(
                    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                )
                part.write(b"<w:body>")
                for _ in range(chunk_count):
                    part.write(body_xml_chunks)
                part.write(b"</w:body></w:document>")
    return out.getvalue()


PARAGRAPHS = b"<w:p><w:r><w:t>Leave is sixteen weeks at full pay.</w:t></w:r></w:p>" * 1000  # 68 KB


def test_a_pdf_of_20000_pages_fails_at_once_with_the_page_limit(kb, tmp_path):
    path = write(tmp_path, "huge.pdf", many_pages_pdf(20_000))
    assert path.stat().st_size < 4 * MB  # the 3.3 MB file of the issue
    document = ingest(kb, path)
    assert document.status == Document.Status.FAILED
    assert document.error == "The PDF has 20,000 pages; the limit is 2,000 (setting INGEST_MAX_PAGES)."


def test_a_pdf_stops_being_read_once_its_text_passes_the_character_limit(kb, tmp_path, settings):
    settings.INGEST_MAX_CHARS = 5_000
    document = ingest(kb, write(tmp_path, "long.pdf", many_pages_pdf(200)))
    assert document.status == Document.Status.FAILED
    assert "more than 5,000 characters of text (passed on page 3 of 200)" in document.error
    assert "INGEST_MAX_CHARS" in document.error


def test_any_file_over_the_character_limit_fails_with_its_count(kb, tmp_path, settings):
    settings.INGEST_MAX_CHARS = 5_000
    document = ingest(kb, write(tmp_path, "long.txt", b"Parking is free. " * 400))
    assert document.error == (
        "The file has 6,800 characters of text; the limit is 5,000 (setting INGEST_MAX_CHARS)."
    )


def test_a_word_zip_bomb_is_refused_before_its_reader_opens_it(kb, tmp_path, monkeypatch):
    bomb = word_file(PARAGRAPHS, chunk_count=700)  # 48 MB of XML, packed to a few hundred KB
    monkeypatch.setattr(office.docx, "Document", lambda *a: pytest.fail("python-docx opened the bomb"))
    document = ingest(kb, write(tmp_path, "bomb.docx", bomb))
    assert document.status == Document.Status.FAILED
    assert "The Word document looks like a ZIP bomb: its part word/document.xml unpacks to" in document.error
    assert "the limit is 100 (setting INGEST_MAX_ZIP_RATIO)" in document.error


def test_a_word_file_over_the_unpacked_limit_is_refused(kb, tmp_path, settings):
    settings.INGEST_MAX_UNPACKED_MB = 1
    document = ingest(kb, write(tmp_path, "big.docx", word_file(PARAGRAPHS, chunk_count=20)))
    assert document.error.startswith("The Word document unpacks to 2.1 MB; the limit is 1 MB")
    assert "INGEST_MAX_UNPACKED_MB" in document.error


def test_a_word_part_that_unpacks_past_its_declared_size_never_reaches_the_reader(kb, tmp_path, monkeypatch):
    liar = with_declared_size(word_file(PARAGRAPHS, chunk_count=20), "word/document.xml", 1000)
    monkeypatch.setattr(office.docx, "Document", lambda *a: pytest.fail("python-docx read the part"))
    document = ingest(kb, write(tmp_path, "liar.docx", liar))
    assert document.error == "The Word document could not be read: its part word/document.xml is damaged."


def test_a_file_that_takes_too_long_to_read_fails_with_the_time_limit(kb, tmp_path, settings):
    settings.INGEST_READ_SECONDS = 2
    settings.INGEST_MAX_CHARS = 10**9  # its 44 million characters would stop it otherwise
    document = ingest(kb, write(tmp_path, "slow.pdf", many_pages_pdf(2000, lines_per_page=400)))
    assert document.status == Document.Status.FAILED
    assert document.error == (
        "Reading the file took longer than 2 seconds, the limit (setting INGEST_READ_SECONDS)."
    )


@pytest.fixture
def sent(monkeypatch) -> list[list[int]]:
    groups: list[list[int]] = []
    monkeypatch.setattr(tasks.ingest_documents, "apply_async", lambda args, **kw: groups.append(args[0]))
    return groups


def upload(kb, *files: tuple[str, bytes]) -> list[Document]:
    named = [(name, ContentFile(data, name=name)) for name, data in files]
    return services.upload_files(knowledge_base=kb, files=named, enqueue=False).created


@pytest.mark.parametrize("struck_in_reader", [False, True])
def test_past_the_soft_limit_the_file_being_read_fails_and_the_rest_are_queued_again(
    kb, monkeypatch, sent, django_capture_on_commit_callbacks, struck_in_reader
):
    first, slow, last = upload(kb, ("a.txt", b"One."), ("slow.txt", b"Two."), ("c.txt", b"Three."))
    real = extract.extract_sections_of_file

    def soft_limit_on_the_slow_one(file, *, filename, limits, scans):
        if filename != "slow.txt":
            return real(file, filename=filename, limits=limits, scans=scans)
        if not struck_in_reader:
            raise SoftTimeLimitExceeded
        try:  # as pypdf and python-docx do: their `except Exception` wraps the limit in an error of theirs
            raise SoftTimeLimitExceeded
        except Exception as error:
            raise extract.ExtractionError("The PDF could not be read.") from error

    monkeypatch.setattr(extract, "extract_sections_of_file", soft_limit_on_the_slow_one)
    with django_capture_on_commit_callbacks(execute=True):
        ingestion.ingest_documents(document_ids=[first.id, slow.id, last.id])
    states = {d.title: (d.status, d.error) for d in Document.objects.all()}
    assert states["slow.txt"][0] == "failed" and "INGEST_TASK_SOFT_SECONDS" in states["slow.txt"][1]
    assert states["a.txt"][0] == states["c.txt"][0] == "queued"
    assert sorted(i for group in sent for i in group) == [first.id, last.id]


def test_large_files_are_sent_in_groups_of_their_own(kb, settings, sent, django_capture_on_commit_callbacks):
    settings.INGEST_GROUP_MB = 1
    small = [(f"{i}.txt", f"Note {i}.".encode()) for i in range(3)]
    large = ("large.txt", b"Parking is free. " * 70_000)  # 1.1 MB
    with django_capture_on_commit_callbacks(execute=True):
        documents = services.upload_files(
            knowledge_base=kb, files=[(n, ContentFile(d, name=n)) for n, d in [*small[:2], large, small[2]]]
        ).created
    ids = {d.title: d.id for d in documents}
    assert sent == [[ids["0.txt"], ids["1.txt"]], [ids["large.txt"]], [ids["2.txt"]]]
