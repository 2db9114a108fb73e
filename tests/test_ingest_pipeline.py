import io
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from knowledge import embedding, ingestion, search_index, services, tasks
from knowledge.models import Chunk, Document
from tests.conftest import CORPUS, indexed, ingest


def upload(kb, *files: tuple[str, bytes]) -> services.UploadReport:
    named = [(name, ContentFile(data, name=Path(name).name)) for name, data in files]
    return services.upload_files(knowledge_base=kb, files=named, enqueue=False)


def test_it_ingests_the_chinese_guide_into_chunks_and_vectors(guide):
    assert guide.status == Document.Status.READY
    assert guide.chunk_count == guide.chunks.count() > 20
    assert guide.chunks_done == guide.chunks_total == guide.chunk_count
    assert indexed(guide.knowledge_base_id) == set(guide.chunks.values_list("id", flat=True))


def test_it_keeps_chunks_within_the_model_limit(guide):
    longest = max(embedding.count_tokens(text) for text in guide.chunks.values_list("text", flat=True))
    assert longest <= embedding.max_chunk_tokens()


def test_it_records_where_each_chunk_came_from(guide):
    chunk = guide.chunks.get(text__contains="6710亿（671B）")
    assert chunk.heading.startswith("2、deepseek理论篇")
    assert CORPUS.read_text()[chunk.char_start : chunk.char_end] == chunk.text


def test_it_skips_a_document_that_is_not_queued(guide):
    ingestion.ingest_documents(document_ids=[guide.id])
    guide.refresh_from_db()
    assert (guide.status, guide.attempts) == (Document.Status.READY, 1)


@pytest.mark.django_db(transaction=True)
def test_a_claim_waits_for_a_document_row_locked_a_moment_instead_of_skipping_it(kb):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks")
    (document,) = upload(kb, ("note.txt", b"Badges are renewed every January.")).created
    locked, release = threading.Event(), threading.Event()

    def note_it_was_queued() -> None:  # what the sender does right after sending the task
        with transaction.atomic():
            Document.objects.filter(id=document.id).update(queued_at=timezone.now())
            locked.set()
            release.wait(10)
        connections.close_all()

    sender = threading.Thread(target=note_it_was_queued)
    sender.start()
    locked.wait(10)
    threading.Timer(0.3, release.set).start()
    claimed = ingestion._claim([document.id])
    sender.join()
    assert [d.id for d in claimed] == [document.id]
    assert ingestion._claim([document.id]) == []  # now processing: not claimed twice


def test_it_reindexes_to_one_copy_reusing_unchanged_vectors(guide, monkeypatch):
    embedded: list[str] = []
    real_embed = embedding.embed
    monkeypatch.setattr(
        embedding, "embed", lambda texts, **kw: embedded.extend(texts) or real_embed(texts, **kw)
    )
    services.documents_reindex(documents=[guide])
    ingestion.ingest_documents(document_ids=[guide.id])
    guide.refresh_from_db()
    assert guide.status == Document.Status.READY and guide.attempts == 2
    assert embedded == []
    assert guide.chunks.count() == guide.chunk_count
    assert indexed(guide.knowledge_base_id) == set(guide.chunks.values_list("id", flat=True))


def test_it_drops_the_work_of_an_attempt_that_was_superseded(kb, monkeypatch):
    document = upload(kb, ("a.txt", b"Lunch is served from noon to two.")).created[0]
    real_store = ingestion._store

    def requeued_meanwhile(works):
        # The sweeper re-queued the document and another worker claimed it before this one stored.
        Document.objects.filter(id=document.id).update(attempts=works[0].document.attempts + 1)
        real_store(works)

    monkeypatch.setattr(ingestion, "_store", requeued_meanwhile)
    ingestion.ingest_documents(document_ids=[document.id])
    assert Chunk.objects.count() == 0


def test_it_rejects_the_same_content_twice(kb, guide):
    report = upload(kb, ("copy.md", CORPUS.read_bytes()))
    assert report.created == []
    assert report.duplicates[0].existing == guide
    assert "already in this knowledge base" in str(report.duplicates[0])


def test_it_rejects_unsupported_empty_and_oversized_files(kb, settings):
    settings.MAX_UPLOAD_MB = 1
    report = upload(kb, ("a.exe", b"MZ"), ("empty.txt", b""), ("big.txt", b"a" * (1024 * 1024 + 1)))
    reasons = [str(exc) for exc in report.rejected]
    assert "unsupported" in reasons[0] and "empty" in reasons[1] and "limit" in reasons[2]
    assert not Document.objects.exists()


def test_it_turns_each_file_in_a_zip_into_a_document(kb):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handbook/leave.txt", "Parental leave is 16 weeks.")
        archive.writestr("handbook/travel.md", "# Travel\n\nTrains under 500 km.")
        archive.writestr("__MACOSX/._leave.txt", "junk")
        archive.writestr("handbook/logo.gif", b"GIF89a")  # images other than PNG, JPEG, TIFF, WebP
    report = upload(kb, ("docs.zip", buffer.getvalue()))
    assert sorted(d.title for d in report.created) == ["handbook/leave.txt", "handbook/travel.md"]
    assert "logo.gif" in str(report.rejected[0])


def test_it_rejects_a_damaged_zip(kb):
    assert "damaged" in str(upload(kb, ("docs.zip", b"PK\x03\x04broken")).rejected[0])


def test_it_fails_a_corrupt_pdf_with_a_reason(kb, tmp_path: Path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not really a pdf")
    document = ingest(kb, broken)
    assert document.status == Document.Status.FAILED
    assert "PDF" in document.error
    assert document.chunks.count() == 0


def test_a_failure_does_not_affect_the_rest_of_the_group(kb):
    report = upload(kb, ("good.txt", b"Parking is free for staff."), ("blank.txt", b" \n\n "))
    ingestion.ingest_documents(document_ids=[d.id for d in report.created])
    statuses = dict(Document.objects.values_list("title", "status"))
    assert statuses == {"good.txt": "ready", "blank.txt": "failed"}


def test_it_removes_chunks_and_vectors_on_delete(guide):
    kb_id = guide.knowledge_base_id
    services.document_delete(document=guide)
    assert Chunk.objects.filter(knowledge_base_id=kb_id).count() == 0
    assert indexed(kb_id) == set()


def test_it_rebuilds_the_index_from_the_database(guide, settings, tmp_path):
    settings.INDEX_DIR = tmp_path / "lost-indexes"
    assert search_index.backend().ids(guide.knowledge_base_id) == set()
    count = services.knowledge_base_rebuild_index(knowledge_base=guide.knowledge_base)
    assert count == guide.chunk_count
    assert indexed(guide.knowledge_base_id) == set(guide.chunks.values_list("id", flat=True))


def test_check_index_reports_a_mismatch_and_rebuild_index_mends_it(guide, capsys):
    call_command("check_index")
    assert "guide: " in capsys.readouterr().out
    guide.chunks.first().delete()
    with pytest.raises(CommandError):
        call_command("check_index", kb="guide")
    assert "1 vectors without a chunk" in capsys.readouterr().out
    call_command("rebuild_index", kb="guide")
    call_command("check_index", kb="guide")
    assert capsys.readouterr().out.strip().endswith(": ok")


def test_it_keeps_a_document_queued_with_a_reason_while_the_broker_is_down(
    kb, monkeypatch, django_capture_on_commit_callbacks
):
    def unreachable(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.ingest_documents, "apply_async", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        document = services.upload_files(
            knowledge_base=kb, files=[("a.txt", ContentFile(b"Hello."))]
        ).created[0]
    document.refresh_from_db()
    assert (document.status, document.queued_at, document.error) == ("queued", None, services.BROKER_DOWN)


def test_the_sweep_resends_unsent_and_requeues_stalled_documents(
    kb, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.ingest_documents, "apply_async", lambda args, **kw: sent.append(args[0]))
    report = upload(kb, ("unsent.txt", b"One."), ("stalled.txt", b"Two."), ("fresh.txt", b"Three."))
    unsent, stalled, fresh = report.created
    long_ago = timezone.now() - timedelta(hours=1)
    Document.objects.filter(id=unsent.id).update(updated_at=long_ago, error=services.BROKER_DOWN)
    Document.objects.filter(id=stalled.id).update(status="processing", updated_at=long_ago)
    Document.objects.filter(id=fresh.id).update(queued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.documents_requeue_stalled()
    assert sorted(i for group in sent for i in group) == sorted([unsent.id, stalled.id])
    stalled.refresh_from_db()
    assert (stalled.status, stalled.error) == ("queued", services.WORKER_LOST)
    unsent.refresh_from_db()
    assert unsent.error == "" and unsent.queued_at is not None


def test_the_sweep_sends_a_requeued_document_once_while_it_waits_for_a_worker(
    kb, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.ingest_documents, "apply_async", lambda args, **kw: sent.append(args[0]))
    (stalled,) = upload(kb, ("stalled.txt", b"Two.")).created
    Document.objects.filter(id=stalled.id).update(
        status="processing", updated_at=timezone.now() - timedelta(hours=1)
    )
    for _sweep in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            services.documents_requeue_stalled()
    assert sent == [[stalled.id]]


def test_deleting_a_knowledge_base_removes_its_files_and_index(
    guide, settings, django_capture_on_commit_callbacks
):
    kb = guide.knowledge_base
    stored = Path(guide.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        services.knowledge_base_delete(knowledge_base=kb)
    folder = Path(settings.MEDIA_ROOT) / "documents" / str(kb.id)
    assert not stored.exists() and not any(path.is_file() for path in folder.rglob("*"))
    assert not (Path(settings.INDEX_DIR) / f"kb-{kb.id}").exists()
    assert not Chunk.objects.exists()
