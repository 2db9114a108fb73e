"""Writes on knowledge bases and documents: upload, ingestion, deletion, index rebuilds."""

import hashlib
import logging
import mimetypes
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import transaction

from knowledge import chunking, embedding, extract, index
from knowledge.models import Chunk, Document, KnowledgeBase

logger = logging.getLogger(__name__)


class UploadRejected(Exception):
    """The file cannot become a document; the message says why, for a person."""


class DuplicateDocument(UploadRejected):
    def __init__(self, existing: Document):
        self.existing = existing
        super().__init__(f"Same content as “{existing.title}”, already in this knowledge base.")


def _sha256(file: File) -> str:
    digest = hashlib.sha256()
    for block in file.chunks():
        digest.update(block)
    file.seek(0)
    return digest.hexdigest()


def upload_check(*, knowledge_base: KnowledgeBase, file: File, name: str) -> str:
    """The file's sha256 when it may become a document of this knowledge base; else UploadRejected."""
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if file.size == 0:
        raise UploadRejected(f"{name}: the file is empty.")
    if file.size > limit:
        raise UploadRejected(
            f"{name}: {file.size / 1048576:.1f} MB is over the {settings.MAX_UPLOAD_MB} MB limit."
        )
    if Path(name).suffix.lower() not in extract.SUPPORTED_EXTENSIONS:
        supported = ", ".join(extract.SUPPORTED_EXTENSIONS)
        raise UploadRejected(f"{name}: unsupported file type (supported: {supported}).")
    sha256 = _sha256(file)
    existing = Document.objects.filter(knowledge_base=knowledge_base, sha256=sha256).first()
    if existing:
        raise DuplicateDocument(existing)
    return sha256


def document_store(
    *, document: Document, file: File, name: str, sha256: str, user=None, enqueue: bool = True
) -> Document:
    """Save a checked upload as a queued document and hand it to a worker once committed."""
    document.title = document.title or Path(name).name
    document.sha256 = sha256
    document.size = file.size
    document.mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    document.status = Document.Status.QUEUED
    document.uploaded_by = user if user is not None and user.is_authenticated else None
    document.file.save(Path(name).name, file, save=False)
    document.save()
    if enqueue:
        document_enqueue(document=document)
    return document


def document_create(
    *, knowledge_base: KnowledgeBase, file: File, name: str, user=None, enqueue: bool = True
) -> Document:
    sha256 = upload_check(knowledge_base=knowledge_base, file=file, name=name)
    document = Document(knowledge_base=knowledge_base)
    return document_store(document=document, file=file, name=name, sha256=sha256, user=user, enqueue=enqueue)


def document_enqueue(*, document: Document) -> None:
    from knowledge.tasks import ingest_document

    def send() -> None:
        try:
            ingest_document.delay(document.id)
        except Exception:
            # The document stays queued with a visible status; re-index sends it again.
            logger.exception("Could not reach the task queue for document %s", document.id)

    transaction.on_commit(send)


def document_reindex(*, document: Document) -> None:
    _set_status(document, Document.Status.QUEUED)
    document_enqueue(document=document)


def _set_status(document: Document, status: str, *, error: str = "", chunk_count: int | None = None) -> None:
    document.status = status
    document.error = error
    fields = ["status", "error", "updated_at"]
    if chunk_count is not None:
        document.chunk_count = chunk_count
        fields.append("chunk_count")
    document.save(update_fields=fields)


def document_ingest(*, document_id: int) -> Document | None:
    """Extract, chunk, embed and index one document. Idempotent: running it twice gives one copy."""
    document = Document.objects.select_related("knowledge_base").filter(id=document_id).first()
    if document is None:
        return None  # deleted while queued
    _set_status(document, Document.Status.PROCESSING)
    try:
        sections = extract.extract_sections(Path(document.file.path), filename=document.title)
        drafts = chunking.split_sections(
            sections,
            count_tokens=embedding.count_tokens,
            max_tokens=embedding.max_chunk_tokens(),
            overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        )
        if not drafts:
            raise extract.ExtractionError("The file contains no text.")
        vectors = embedding.embed([draft.text for draft in drafts])
    except extract.ExtractionError as exc:
        _set_status(document, Document.Status.FAILED, error=str(exc), chunk_count=0)
        return document
    except FileNotFoundError:
        _set_status(document, Document.Status.FAILED, error="The stored file is missing.", chunk_count=0)
        return document
    _store_chunks(document, drafts, vectors)
    _set_status(document, Document.Status.READY, chunk_count=len(drafts))
    return document


def _store_chunks(document: Document, drafts: list[chunking.ChunkDraft], vectors: np.ndarray) -> None:
    with transaction.atomic():
        old_ids = list(document.chunks.values_list("id", flat=True))
        document.chunks.all().delete()
        chunks = Chunk.objects.bulk_create(
            Chunk(
                document=document,
                knowledge_base_id=document.knowledge_base_id,
                position=position,
                text=draft.text,
                heading=draft.heading[:500],
                page=draft.page,
                char_start=draft.char_start,
                char_end=draft.char_end,
                vector=vector.tobytes(),
            )
            for position, (draft, vector) in enumerate(zip(drafts, vectors, strict=True))
        )
        ids = [chunk.id for chunk in chunks]
        if any(i is None for i in ids):  # backends that do not return ids from bulk inserts
            ids = list(document.chunks.order_by("position").values_list("id", flat=True))
        index.update(
            document.knowledge_base_id,
            dim=vectors.shape[1],
            remove_ids=old_ids,
            add_ids=ids,
            add_vectors=vectors,
        )


def document_delete(*, document: Document) -> None:
    chunk_ids = list(document.chunks.values_list("id", flat=True))
    with transaction.atomic():
        document.delete()
        if chunk_ids:
            index.update(
                document.knowledge_base_id,
                dim=embedding.dimension(),
                remove_ids=chunk_ids,
                add_ids=[],
                add_vectors=np.zeros((0, 0), dtype=np.float32),
            )
    document.file.delete(save=False)


def knowledge_base_rebuild_index(*, knowledge_base: KnowledgeBase) -> int:
    """Rewrite the knowledge base's index from the chunks in the database; returns the vector count."""
    dim = embedding.dimension()
    rows = Chunk.objects.filter(knowledge_base=knowledge_base).values_list("id", "vector")
    ids = [row[0] for row in rows]
    vectors = np.frombuffer(b"".join(bytes(row[1]) for row in rows), dtype=np.float32).reshape(-1, dim)
    index.replace(knowledge_base.id, dim=dim, ids=ids, vectors=vectors)
    return len(ids)
