"""Writes on knowledge bases and documents: upload, queueing, deletion, index rebuilds."""

import hashlib
import logging
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from knowledge import embedding, extract, index
from knowledge.models import Chunk, Document, KnowledgeBase

logger = logging.getLogger(__name__)

BROKER_DOWN = "Waiting for the task queue, which could not be reached; it will be sent automatically."
WORKER_LOST = "The worker stopped while indexing this document; it was queued again."


class UploadRejected(Exception):
    """The file cannot become a document; the message says why, for a person."""


class DuplicateDocument(UploadRejected):
    def __init__(self, name: str, existing: Document):
        self.existing = existing
        super().__init__(f"{name}: same content as “{existing.title}”, already in this knowledge base.")


@dataclass
class UploadReport:
    created: list[Document] = field(default_factory=list)
    duplicates: list[DuplicateDocument] = field(default_factory=list)
    rejected: list[UploadRejected] = field(default_factory=list)


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
        size = file.size / 1048576
        raise UploadRejected(f"{name}: {size:.1f} MB is over the {settings.MAX_UPLOAD_MB} MB limit.")
    if Path(name).suffix.lower() not in extract.SUPPORTED_EXTENSIONS:
        supported = ", ".join(extract.SUPPORTED_EXTENSIONS)
        raise UploadRejected(f"{name}: unsupported file type (supported: {supported}, and .zip of them).")
    sha256 = _sha256(file)
    existing = Document.objects.filter(knowledge_base=knowledge_base, sha256=sha256).first()
    if existing:
        raise DuplicateDocument(name, existing)
    return sha256


def _detected_mime(file: File, name: str) -> str:
    """The type judged by the content, which the original is served as (never by its title). A file
    that is not what its name says is kept as opaque bytes: its ingestion fails and says why."""
    try:
        return extract.detect_mime_of_file(file, name)
    except extract.ExtractionError:
        return extract.OPAQUE
    finally:
        file.seek(0)


def document_store(*, document: Document, file: File, name: str, sha256: str, user=None) -> Document:
    """Save a checked upload as a queued document (the caller queues it)."""
    document.title = document.title or Path(name).name
    document.sha256 = sha256
    document.size = file.size
    document.mime = _detected_mime(file, name)
    document.status = Document.Status.QUEUED
    document.uploaded_by = user if user is not None and user.is_authenticated else None
    document.file.save(Path(name).name, file, save=False)
    document.save()
    return document


def _zip_members(name: str, file: File) -> Iterator[tuple[str, File]]:
    """The documents inside a .zip, named by their path in it; folders and hidden files skipped."""
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise UploadRejected(f"{name}: the .zip archive is damaged.") from None
    with archive:
        for info in archive.infolist():
            path = PurePosixPath(info.filename)
            if info.is_dir() or any(part.startswith((".", "__MACOSX")) for part in path.parts):
                continue
            if info.file_size > settings.MAX_UPLOAD_MB * 1024 * 1024:
                raise UploadRejected(f"{name}/{info.filename}: over the {settings.MAX_UPLOAD_MB} MB limit.")
            yield info.filename, ContentFile(archive.read(info), name=path.name)


def upload_files(
    *, knowledge_base: KnowledgeBase, files: Iterable[tuple[str, File]], user=None, enqueue: bool = True
) -> UploadReport:
    """Store each file (and each document inside a .zip) as its own document, and queue them in groups."""
    report = UploadReport()
    unsent: list[Document] = []

    def add(name: str, file: File) -> None:
        try:
            sha256 = upload_check(knowledge_base=knowledge_base, file=file, name=name)
        except DuplicateDocument as exc:
            report.duplicates.append(exc)
            return
        except UploadRejected as exc:
            report.rejected.append(exc)
            return
        document = Document(knowledge_base=knowledge_base, title=name[:300])
        report.created.append(
            document_store(document=document, file=file, name=name, sha256=sha256, user=user)
        )
        unsent.append(document)
        if enqueue and len(unsent) == settings.INGEST_GROUP_SIZE:
            # Workers start on the first groups while the rest of a large upload is still stored.
            documents_enqueue(documents=unsent[:])
            unsent.clear()

    for name, file in files:
        if Path(name).suffix.lower() != ".zip":
            add(name, file)
            continue
        try:
            for member, content in _zip_members(name, file):
                add(member, content)
        except UploadRejected as exc:
            report.rejected.append(exc)
    if enqueue:
        documents_enqueue(documents=unsent)
    return report


def documents_enqueue(*, documents: list[Document]) -> None:
    """Send the documents to the workers in groups, once the current transaction commits.

    A document whose message cannot be sent stays queued with a visible reason; the periodic
    sweep sends it again when the broker is back.
    """
    from knowledge.tasks import ingest_documents

    ids = [document.id for document in documents]
    size = settings.INGEST_GROUP_SIZE

    def send() -> None:
        for start in range(0, len(ids), size):
            group = ids[start : start + size]
            try:
                ingest_documents.apply_async(args=[group], retry=False)
            except Exception:
                logger.warning("Could not reach the task queue for documents %s", group, exc_info=True)
                Document.objects.filter(id__in=group, status=Document.Status.QUEUED).update(
                    queued_at=None, error=BROKER_DOWN
                )
                continue
            sent = Document.objects.filter(id__in=group, status=Document.Status.QUEUED)
            sent.update(queued_at=timezone.now())
            sent.filter(error=BROKER_DOWN).update(error="")

    transaction.on_commit(send)


def documents_reindex(*, documents: Iterable[Document]) -> int:
    """Queue documents again (ready, failed or stuck); their file is read and indexed anew."""
    ids = [document.id for document in documents]
    Document.objects.filter(id__in=ids).update(
        status=Document.Status.QUEUED, error="", chunks_done=0, chunks_total=0, updated_at=timezone.now()
    )
    documents_enqueue(documents=list(Document.objects.filter(id__in=ids)))
    return len(ids)


def documents_requeue_stalled() -> int:
    """Queue again what no worker is moving: processing without a heartbeat, and queued messages
    that never reached the broker or were lost. Running a document twice is harmless."""
    now = timezone.now()
    stalled = Document.objects.filter(
        status=Document.Status.PROCESSING,
        updated_at__lt=now - timedelta(seconds=settings.INGEST_STALE_SECONDS),
    )
    lost = stalled.update(status=Document.Status.QUEUED, error=WORKER_LOST, updated_at=now)
    waiting = Document.objects.filter(status=Document.Status.QUEUED).filter(
        Q(
            queued_at__isnull=True,
            updated_at__lt=now - timedelta(seconds=settings.INGEST_RESEND_UNSENT_SECONDS),
        )
        | Q(queued_at__lt=now - timedelta(seconds=settings.INGEST_RESEND_QUEUED_SECONDS))
        | Q(error=WORKER_LOST)
    )
    documents = list(waiting)
    documents_enqueue(documents=documents)
    if lost or documents:
        logger.info("Re-queued %d stalled and %d waiting documents", lost, len(documents))
    return len(documents)


def document_delete(*, document: Document) -> None:
    """Delete a document with its chunks, vectors and file."""
    with transaction.atomic():
        chunk_ids = list(document.chunks.values_list("id", flat=True))
        document.delete()
        if chunk_ids:
            index.update(document.knowledge_base_id, remove_ids=chunk_ids)
    document.file.delete(save=False)


def knowledge_base_delete(*, knowledge_base: KnowledgeBase) -> None:
    """Delete a knowledge base with its documents, their files, and its index folder."""
    kb_id = knowledge_base.id
    knowledge_base.delete()
    # Uploads live under documents/<knowledge base id>/ (see document_upload_path).
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "documents" / str(kb_id), ignore_errors=True)
    index.drop(kb_id)


def knowledge_base_rebuild_index(*, knowledge_base: KnowledgeBase) -> int:
    """Rewrite the knowledge base's index from the chunks in the database; returns the vector count."""
    dim = embedding.dimension()
    with transaction.atomic():
        chunks = Chunk.objects.filter(knowledge_base=knowledge_base).order_by("id")
        rows = list(chunks.values_list("id", "vector", "text"))
        ids = [row[0] for row in rows]
        vectors = np.frombuffer(b"".join(bytes(row[1]) for row in rows), dtype=np.float32).reshape(-1, dim)
        index.replace(knowledge_base.id, ids=ids, vectors=vectors, texts=[row[2] for row in rows])
    return len(ids)


@dataclass(frozen=True)
class IndexCheck:
    knowledge_base: KnowledgeBase
    chunks: int
    vectors: int
    missing: int  # chunks without a vector
    orphans: int  # vectors without a chunk

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.orphans == 0


def knowledge_base_check_index(*, knowledge_base: KnowledgeBase) -> IndexCheck:
    chunk_ids = set(Chunk.objects.filter(knowledge_base=knowledge_base).values_list("id", flat=True))
    vector_ids = index.vector_ids(knowledge_base.id)
    return IndexCheck(
        knowledge_base,
        chunks=len(chunk_ids),
        vectors=len(vector_ids),
        missing=len(chunk_ids - vector_ids),
        orphans=len(vector_ids - chunk_ids),
    )
