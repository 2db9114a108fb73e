"""Ingesting documents: claim, extract, chunk, embed, store, index.

Documents are processed in small groups so the embedding model sees large batches (its throughput
on a CPU depends on it), while each document keeps its own status, progress and failure reason.
Every step is idempotent: a document is claimed by an atomic status change, and its chunks and
vectors are replaced in one transaction that first checks the claim is still ours, so a task that
runs twice (a redelivered message, a re-queued stalled document) leaves exactly one copy.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from knowledge import chunking, embedding, extract, index
from knowledge.models import Chunk, Document

logger = logging.getLogger(__name__)


@dataclass
class _Work:
    document: Document
    drafts: list[chunking.ChunkDraft]
    hashes: list[str]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def missing(self) -> list[int]:
        return [i for i, digest in enumerate(self.hashes) if digest not in self.vectors]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _claim(document_id: int) -> Document | None:
    """Take a queued document for this worker; None when it is gone, done, or taken by another."""
    taken = Document.objects.filter(id=document_id, status=Document.Status.QUEUED).update(
        status=Document.Status.PROCESSING,
        attempts=F("attempts") + 1,
        error="",
        chunks_done=0,
        chunks_total=0,
        updated_at=timezone.now(),
    )
    return Document.objects.select_related("knowledge_base").get(id=document_id) if taken else None


def _fail(document: Document, reason: str) -> None:
    mine = Document.objects.filter(
        id=document.id, attempts=document.attempts, status=Document.Status.PROCESSING
    )
    mine.update(status=Document.Status.FAILED, error=reason, chunk_count=0, updated_at=timezone.now())


def _report_progress(work: _Work) -> None:
    """Chunks with a vector so far; also the heartbeat that tells the sweeper this worker is alive."""
    done = len(work.hashes) - len(work.missing)
    Document.objects.filter(id=work.document.id).update(chunks_done=done, updated_at=timezone.now())


def _prepare(document: Document) -> _Work:
    sections = extract.extract_sections(Path(document.file.path), filename=document.title)
    drafts = chunking.split_sections(
        sections,
        count_tokens=embedding.count_tokens,
        max_tokens=embedding.max_chunk_tokens(),
        overlap_tokens=min(document.knowledge_base.chunk_overlap, embedding.max_chunk_tokens() // 2),
    )
    if not drafts:
        raise extract.ExtractionError("The file contains no text.")
    work = _Work(document, drafts, [content_hash(d.text) for d in drafts])
    # Unchanged chunks (same text anywhere in this knowledge base) keep their stored vectors.
    stored = Chunk.objects.filter(
        knowledge_base_id=document.knowledge_base_id, content_hash__in=set(work.hashes)
    )
    for digest, vector in stored.values_list("content_hash", "vector"):
        work.vectors[digest] = np.frombuffer(bytes(vector), dtype=np.float32)
    Document.objects.filter(id=document.id).update(chunks_total=len(drafts), error="")
    _report_progress(work)
    return work


def _embed(works: list[_Work]) -> None:
    """Embed every missing chunk of the group in large batches, reporting progress per batch."""
    pending = [(work, i) for work in works for i in work.missing]
    step = settings.INGEST_EMBED_BATCH
    for start in range(0, len(pending), step):
        batch = pending[start : start + step]
        texts = list(dict.fromkeys(work.drafts[i].text for work, i in batch))
        fresh = dict(zip(map(content_hash, texts), embedding.embed(texts), strict=True))
        for work in {id(work): work for work, _i in batch}.values():
            work.vectors.update({digest: fresh[digest] for digest in work.hashes if digest in fresh})
            _report_progress(work)


def _store(work: _Work) -> None:
    document = work.document
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(id=document.id).first()
        if (
            current is None
            or current.attempts != document.attempts
            or current.status != Document.Status.PROCESSING
        ):
            return  # deleted, or re-queued and claimed again: that attempt will store its own copy
        old_ids = list(current.chunks.values_list("id", flat=True))
        current.chunks.all().delete()
        vectors = np.stack([work.vectors[digest] for digest in work.hashes])
        rows = zip(work.drafts, work.hashes, vectors, strict=True)
        chunks = Chunk.objects.bulk_create(
            Chunk(
                document=current,
                knowledge_base_id=current.knowledge_base_id,
                position=position,
                text=draft.text,
                heading=draft.heading[:500],
                page=draft.page,
                char_start=draft.char_start,
                char_end=draft.char_end,
                content_hash=digest,
                vector=vector.tobytes(),
            )
            for position, (draft, digest, vector) in enumerate(rows)
        )
        ids = [chunk.id for chunk in chunks]
        index.update(current.knowledge_base_id, remove_ids=old_ids, add_ids=ids, add_vectors=vectors)
        Document.objects.filter(id=current.id).update(
            status=Document.Status.READY,
            error="",
            chunk_count=len(ids),
            chunks_done=len(ids),
            chunks_total=len(ids),
            updated_at=timezone.now(),
        )


def ingest_documents(*, document_ids: list[int]) -> None:
    """Ingest the queued documents among these ids; others are skipped."""
    works: list[_Work] = []
    for document_id in document_ids:
        document = _claim(document_id)
        if document is None:
            continue
        try:
            works.append(_prepare(document))
        except extract.ExtractionError as exc:
            _fail(document, str(exc))
        except FileNotFoundError:
            _fail(document, "The stored file is missing; upload it again.")
        except Exception as exc:  # a reader library's own bug must not stop the other documents
            logger.exception("Reading document %s failed", document.id)
            _fail(document, f"The file could not be read ({type(exc).__name__}: {exc}).")
    try:
        _embed(works)
        for work in works:
            _store(work)
    except Exception as exc:
        logger.exception("Indexing documents %s failed", [w.document.id for w in works])
        for work in works:
            _fail(
                work.document,
                f"Indexing failed unexpectedly ({type(exc).__name__}: {exc}); re-index to retry.",
            )
        raise
