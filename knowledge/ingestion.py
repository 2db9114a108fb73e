"""Ingesting documents: claim, extract, chunk, embed, store (and log for the indexes).

Documents are processed in small groups so the embedding model sees large batches (its throughput
on a CPU depends on it), while each document keeps its own status, progress and failure reason.
Every step is idempotent: a document is claimed by an atomic status change, and its chunks and
vectors are replaced in one transaction that first checks the claim is still ours, so a task that
runs twice (a redelivered message, a re-queued stalled document) leaves exactly one copy.

One file must not cost the rest: each is read within limits (pages, characters, what a Word or
Excel file unpacks to, INGEST_READ_SECONDS) and fails alone with the limit named. When the task's
soft time limit strikes, the document in hand fails with that reason and the rest of the group is
queued again; past the hard limit the pool process is replaced and tasks.IngestTask records why.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import ngettext

from knowledge import chunking, embedders, extract, index_log, languages, services
from knowledge.locations import location_label
from knowledge.models import Chunk, Document, KnowledgeBase
from knowledge.time_limit import TimeLimitReached, time_limit
from policy import documents as policy_documents

logger = logging.getLogger(__name__)
# While a group is read, its documents are marked alive this often: the sweep re-queues documents
# processing without a sign of life for INGEST_STALE_SECONDS.
HEARTBEAT_SECONDS = 10


@dataclass
class _Work:
    document: Document
    embedder: str  # the knowledge base's embedder when the document was split (by name)
    drafts: list[chunking.ChunkDraft]
    hashes: list[str]
    scripts: dict[str, float]  # the document's languages (knowledge.languages)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def missing(self) -> list[int]:
        return [i for i, digest in enumerate(self.hashes) if digest not in self.vectors]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _claim(document_ids: list[int]) -> list[Document]:
    """Take the queued documents among these for this worker; gone, done or taken ones are skipped.

    A row locked by someone else is waited for, not skipped: the lock may be the sender noting when
    it queued the document (a moment), and a skipped document stayed queued with no task left for
    it. Once the lock is released the row is checked again, so one taken meanwhile is not claimed.
    """
    with transaction.atomic():
        # Locks are taken in id order, so two claims over overlapping groups cannot deadlock.
        queued = (
            Document.objects.select_for_update()
            .filter(id__in=document_ids, status=Document.Status.QUEUED)
            .order_by("id")
        )
        ids = list(queued.values_list("id", flat=True))
        Document.objects.filter(id__in=ids).update(
            status=Document.Status.PROCESSING,
            attempts=F("attempts") + 1,
            error="",
            chunks_done=0,
            chunks_total=0,
            ocr_pages_done=0,
            ocr_pages_total=0,
            updated_at=timezone.now(),
        )
    return list(Document.objects.select_related("knowledge_base").filter(id__in=ids).order_by("id"))


def _fail(document: Document, reason: str) -> None:
    mine = Document.objects.filter(
        id=document.id, attempts=document.attempts, status=Document.Status.PROCESSING
    )
    mine.update(status=Document.Status.FAILED, error=reason, chunk_count=0, updated_at=timezone.now())


def _report_progress(works: list[_Work]) -> None:
    """Chunks with a vector so far; also the heartbeat that tells the sweeper this worker is alive."""
    now = timezone.now()
    for work in works:
        work.document.chunks_total = len(work.hashes)
        work.document.chunks_done = len(work.hashes) - len(work.missing)
        work.document.updated_at = now
    Document.objects.bulk_update(
        [work.document for work in works], ["chunks_total", "chunks_done", "updated_at"], batch_size=500
    )


def _reading_limits() -> extract.ReadingLimits:
    return extract.ReadingLimits(
        pages=settings.INGEST_MAX_PAGES,
        characters=settings.INGEST_MAX_CHARS,
        unpacked_bytes=settings.INGEST_MAX_UNPACKED_MB * 1024 * 1024,
        unpacked_ratio=settings.INGEST_MAX_ZIP_RATIO,
    )


def _scans(document: Document, *, read_scans: bool) -> extract.Scans | None:
    """What becomes of the document's scans: read here (the OCR worker), handed to the OCR worker, or,
    with the knowledge base's OCR off, left out."""
    if not document.knowledge_base.ocr:
        return None
    if not read_scans:
        return extract.HandOff()

    def report(done: int, total: int) -> None:  # also the heartbeat while a long scan is read
        mine = Document.objects.filter(id=document.id, attempts=document.attempts)
        mine.update(ocr_pages_done=done, ocr_pages_total=total, updated_at=timezone.now())

    return extract.ScanReader(
        max_pages=settings.OCR_MAX_PAGES,
        max_pixels=settings.OCR_MAX_PIXELS,
        threads=settings.OCR_THREADS,
        on_page=report,
    )


def _read_seconds(*, read_scans: bool) -> tuple[int, str]:
    if read_scans:
        return settings.OCR_READ_SECONDS, "OCR_READ_SECONDS"
    return settings.INGEST_READ_SECONDS, "INGEST_READ_SECONDS"


def _prepare(document: Document, *, read_scans: bool) -> _Work:
    """The document's text extracted and split, within the reading limits and INGEST_READ_SECONDS
    (OCR_READ_SECONDS on the OCR worker)."""
    embedder = embedders.get(document.knowledge_base.embedder)
    max_tokens = embedder.max_chunk_tokens()  # loads the model, which is not the file's time
    with time_limit(_read_seconds(read_scans=read_scans)[0]):
        # Through the storage (STORAGES["default"]): the original may be in an object store, not on disk.
        with document.file.open("rb") as file:
            sections = extract.extract_sections_of_file(
                file,
                filename=document.type_name,
                limits=_reading_limits(),
                scans=_scans(document, read_scans=read_scans),
            )
        drafts = chunking.split_sections(
            sections,
            count_tokens=embedder.count_tokens,
            max_tokens=max_tokens,
            overlap_tokens=min(document.knowledge_base.chunk_overlap, max_tokens // 2),
        )
    if not drafts:
        raise extract.ExtractionError("The file contains no text.")
    _screen(document, drafts)
    texts = [draft.text for draft in drafts]
    return _Work(
        document, embedder.name, drafts, list(map(content_hash, texts)), languages.text_scripts(texts)
    )


def _screen(document: Document, drafts: list[chunking.ChunkDraft]) -> None:
    """Flag the document with the content policy's terms; a block list's term keeps it out of the index."""
    passages = [
        policy_documents.Passage(d.text, location_label(page=d.page, heading=d.heading)) for d in drafts
    ]
    if reason := policy_documents.screen_document(document=document, passages=passages):
        raise extract.ExtractionError(reason)


def _stopped_by_task_limit(error: BaseException | None) -> bool:
    """Whether the task's soft time limit struck, perhaps inside a reader that turned it into an
    error of its own (pypdf and python-docx catch every Exception, and Celery's is one)."""
    while error is not None:
        if isinstance(error, SoftTimeLimitExceeded):
            return True
        error = error.__cause__ or error.__context__
    return False


def _read(document: Document, *, read_scans: bool) -> _Work | None:
    """The document read and split; None when it failed, which is then recorded with the reason, or
    when it holds scans and was handed to the OCR worker."""
    try:
        return _prepare(document, read_scans=read_scans)
    except TimeLimitReached:
        seconds, setting = _read_seconds(read_scans=read_scans)
        reason = ngettext(
            "Reading the file took longer than %(seconds)s second, the limit (setting %(setting)s).",
            "Reading the file took longer than %(seconds)s seconds, the limit (setting %(setting)s).",
            seconds,
        ) % {"seconds": f"{seconds:,}", "setting": setting}
    except extract.NeedsOcr as exc:
        if document.knowledge_base.ocr and not read_scans:
            _hand_to_ocr(document)
            return None
        reason = str(exc)
    except Exception as exc:
        if _stopped_by_task_limit(exc):
            raise SoftTimeLimitExceeded from exc
        reason = _reason(document, exc)
    _fail(document, reason)
    return None


def _hand_to_ocr(document: Document) -> None:
    """Queue a document found to hold scans again, for the OCR worker, which reads it from the start."""
    mine = Document.objects.filter(
        id=document.id, attempts=document.attempts, status=Document.Status.PROCESSING
    )
    if mine.update(status=Document.Status.QUEUED, needs_ocr=True, updated_at=timezone.now()):
        document.needs_ocr = True
        services.documents_enqueue(documents=[document])


def _reason(document: Document, error: Exception) -> str:
    if isinstance(error, extract.ExtractionError | embedders.EmbedderError):
        return str(error)
    if isinstance(error, FileNotFoundError):
        return "The stored file is missing; upload it again."
    # A reader library's own bug must not stop the other documents.
    logger.error("Reading document %s failed", document.id, exc_info=error)
    return f"The file could not be read ({type(error).__name__}: {error})."


def _task_limit_reason() -> str:
    seconds = settings.INGEST_TASK_SOFT_SECONDS
    return ngettext(
        "Indexing was stopped when its task reached the time limit of %(seconds)s second "
        "(setting INGEST_TASK_SOFT_SECONDS).",
        "Indexing was stopped when its task reached the time limit of %(seconds)s seconds "
        "(setting INGEST_TASK_SOFT_SECONDS).",
        seconds,
    ) % {"seconds": f"{seconds:,}"}


def _heartbeat(documents: list[Document]) -> None:
    """Tell the sweep these documents are still in hand while others of their group are read."""
    ids = [document.id for document in documents]
    Document.objects.filter(id__in=ids, status=Document.Status.PROCESSING).update(updated_at=timezone.now())


def _requeue(documents: list[Document]) -> None:
    """Give documents this attempt claimed and did not finish back to the queue, for another task."""
    mine = [
        document
        for document in documents
        if Document.objects.filter(
            id=document.id, attempts=document.attempts, status=Document.Status.PROCESSING
        ).update(status=Document.Status.QUEUED, updated_at=timezone.now())
    ]
    services.documents_enqueue(documents=mine)


def _read_all(documents: list[Document], *, read_scans: bool) -> list[_Work] | None:
    """Each document read and split (those that cannot be are failed with the reason); None when the
    task's soft time limit struck: the document being read fails with that reason, the others are
    queued again, so one slow file never costs the rest of its group."""
    works: list[_Work] = []
    reading = None
    beat = time.monotonic()
    try:
        for document in documents:
            reading = document
            if work := _read(document, read_scans=read_scans):
                works.append(work)
            reading = None
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                _heartbeat(documents)
                beat = time.monotonic()
    except SoftTimeLimitExceeded:
        logger.warning("Documents %s met the task's soft time limit", [d.id for d in documents])
        if reading is not None:
            _fail(reading, _task_limit_reason())
        _requeue([document for document in documents if document is not reading])
        return None
    return works


def _reuse_stored_vectors(works: list[_Work]) -> None:
    """Unchanged chunks (same text anywhere in the knowledge base) keep their stored vectors."""
    by_kb: dict[int, set[str]] = {}
    for work in works:
        by_kb.setdefault(work.document.knowledge_base_id, set()).update(work.hashes)
    stored: dict[tuple[int, str], np.ndarray] = {}
    for kb_id, hashes in by_kb.items():
        rows = Chunk.objects.filter(knowledge_base_id=kb_id, content_hash__in=hashes)
        for digest, vector in rows.values_list("content_hash", "vector"):
            stored[kb_id, digest] = np.frombuffer(bytes(vector), dtype=np.float32)
    for work in works:
        kb_id = work.document.knowledge_base_id
        work.vectors.update({d: stored[kb_id, d] for d in work.hashes if (kb_id, d) in stored})


def _embed(works: list[_Work]) -> None:
    """Embed every missing chunk of the group in large batches, each by its knowledge base's
    embedder, reporting progress per batch."""
    pending = sorted(((work, i) for work in works for i in work.missing), key=lambda item: item[0].embedder)
    step = settings.INGEST_EMBED_BATCH
    for start in range(0, len(pending), step):
        batch = pending[start : start + step]
        by_embedder: dict[str, list[str]] = {}
        for work, i in batch:
            by_embedder.setdefault(work.embedder, []).append(work.drafts[i].text)
        fresh: dict[str, np.ndarray] = {}
        for name, texts in by_embedder.items():
            unique = list(dict.fromkeys(texts))
            fresh.update(zip(map(content_hash, unique), embedders.get(name).embed(unique), strict=True))
        touched = list({id(work): work for work, _i in batch}.values())
        for work in touched:
            work.vectors.update({digest: fresh[digest] for digest in work.hashes if digest in fresh})
        _report_progress(touched)


def _chunk_rows(work: _Work) -> list[Chunk]:
    rows = zip(work.drafts, work.hashes, strict=True)
    return [
        Chunk(
            document_id=work.document.id,
            knowledge_base_id=work.document.knowledge_base_id,
            position=position,
            text=draft.text,
            heading=draft.heading[:500],
            page=draft.page,
            char_start=draft.char_start,
            char_end=draft.char_end,
            content_hash=digest,
            vector=work.vectors[digest].tobytes(),
        )
        for position, (draft, digest) in enumerate(rows)
    ]


def _store(works: list[_Work]) -> None:
    """Replace the chunks of every document this attempt still owns, and log them for the indexes,
    in one transaction.

    One transaction for the whole group: per-document writes would cost more than embedding short
    documents. Each node's indexes apply the log (knowledge.index_sync); the log goes last, as
    index_log asks.
    """
    with transaction.atomic():
        owned = Document.objects.select_for_update().filter(
            id__in=[work.document.id for work in works], status=Document.Status.PROCESSING
        )
        attempts = dict(owned.values_list("id", "attempts"))
        # A document re-queued and claimed again meanwhile is left to that attempt.
        mine = [work for work in works if attempts.get(work.document.id) == work.document.attempts]
        # A knowledge base that switched embedders meanwhile needs the document embedded again; its
        # row lock orders this write before or after the switch (knowledge.reembedding).
        current = dict(
            KnowledgeBase.objects.select_for_update()
            .filter(id__in={work.document.knowledge_base_id for work in mine})
            .order_by("id")
            .values_list("id", "embedder")
        )
        outdated = [w for w in mine if current.get(w.document.knowledge_base_id) != w.embedder]
        if outdated:
            _requeue([work.document for work in outdated])
            mine = [w for w in mine if current.get(w.document.knowledge_base_id) == w.embedder]
        if not mine:
            return
        old = Chunk.objects.filter(document_id__in=[work.document.id for work in mine])
        removed: dict[int, list[int]] = {}
        for kb_id, chunk_id in old.values_list("knowledge_base_id", "id"):
            removed.setdefault(kb_id, []).append(chunk_id)
        old.delete()
        chunks = Chunk.objects.bulk_create(
            [chunk for work in mine for chunk in _chunk_rows(work)], batch_size=500
        )
        now = timezone.now()
        for work in mine:
            count = len(work.drafts)
            Document.objects.filter(id=work.document.id).update(
                status=Document.Status.READY,
                error="",
                chunk_count=count,
                chunks_done=count,
                chunks_total=count,
                scripts=work.scripts,
                updated_at=now,
            )
        added: dict[int, list[int]] = {}
        for chunk in chunks:
            added.setdefault(chunk.knowledge_base_id, []).append(chunk.id)
        index_log.record_chunks(removed=removed, added=added)


def documents_fail_stopped(*, document_ids: list[int]) -> int:
    """Fail the documents still processing in a task that met its hard time limit: its pool process
    was killed mid-work, so nothing else would tell why they stopped."""
    seconds = settings.INGEST_TASK_HARD_SECONDS
    reason = ngettext(
        "Indexing was stopped when its task reached the hard time limit of %(seconds)s second "
        "(setting INGEST_TASK_HARD_SECONDS); the worker process was replaced.",
        "Indexing was stopped when its task reached the hard time limit of %(seconds)s seconds "
        "(setting INGEST_TASK_HARD_SECONDS); the worker process was replaced.",
        seconds,
    ) % {"seconds": f"{seconds:,}"}
    stopped = Document.objects.filter(id__in=document_ids, status=Document.Status.PROCESSING)
    return stopped.update(
        status=Document.Status.FAILED, error=reason, chunk_count=0, updated_at=timezone.now()
    )


def ingest_documents(*, document_ids: list[int], read_scans: bool = False) -> None:
    """Ingest the queued documents among these ids; others are skipped. Scans are read with
    `read_scans` (the OCR worker); otherwise a document holding them is handed to the OCR worker."""
    works = _read_all(_claim(document_ids), read_scans=read_scans)
    if works is None:
        return
    try:
        _reuse_stored_vectors(works)
        _report_progress(works)
        _embed(works)
        _store(works)
    except embedders.EmbedderError as exc:
        logger.warning("Embedding documents %s failed: %s", [w.document.id for w in works], exc)
        for work in works:
            _fail(work.document, f"{exc} Re-index to retry.")
    except SoftTimeLimitExceeded:
        logger.warning("Documents %s met the task's soft time limit", [w.document.id for w in works])
        for work in works:
            _fail(work.document, _task_limit_reason())
    except Exception as exc:
        logger.exception("Indexing documents %s failed", [w.document.id for w in works])
        for work in works:
            _fail(
                work.document,
                f"Indexing failed unexpectedly ({type(exc).__name__}: {exc}); re-index to retry.",
            )
        raise
