"""Writes on knowledge bases and documents: upload, queueing, deletion, index rebuilds."""

import hashlib
import logging
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge import archives, audit_trail, extract, index_log, index_sync, search_index
from knowledge.models import TITLE_CHARS, Chunk, Document, KnowledgeBase

logger = logging.getLogger(__name__)
MB = 1024 * 1024

BROKER_DOWN = "Waiting for the task queue, which could not be reached; it will be sent automatically."
WORKER_LOST = "The worker stopped while indexing this document; it was queued again."


class UploadRejected(Exception):
    """The file (or archive member) `name` cannot become a document; `reason` says why, for a person."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(_("%(name)s: %(reason)s") % {"name": name, "reason": reason})


class DuplicateDocument(UploadRejected):
    def __init__(self, name: str, existing: Document):
        self.existing = existing
        reason = _("same content as “%(title)s”, already in this knowledge base.") % {"title": existing.title}
        super().__init__(name, reason)


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


def _over_upload_limit(size: int) -> str:
    return _("%(size)s MB is over the %(limit)d MB limit (setting MAX_UPLOAD_MB).") % {
        "size": f"{size / MB:.1f}",
        "limit": settings.MAX_UPLOAD_MB,
    }


def upload_check(*, knowledge_base: KnowledgeBase, file: File, name: str) -> str:
    """The file's sha256 when it may become a document of this knowledge base; else UploadRejected."""
    if file.size == 0:
        raise UploadRejected(name, _("the file is empty."))
    if file.size > settings.MAX_UPLOAD_MB * MB:
        raise UploadRejected(name, _over_upload_limit(file.size))
    if Path(name).suffix.lower() not in extract.SUPPORTED_EXTENSIONS:
        supported = ", ".join(extract.SUPPORTED_EXTENSIONS)
        raise UploadRejected(
            name, _("unsupported file type (supported: %(types)s, and .zip of them).") % {"types": supported}
        )
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
    document.needs_ocr = extract.needs_ocr(document.mime)
    document.status = Document.Status.QUEUED
    document.uploaded_by = user if user is not None and user.is_authenticated else None
    document.file.save(Path(name).name, file, save=False)
    document.save()
    return document


def _skipped(path: PurePosixPath, info: zipfile.ZipInfo) -> bool:
    """Folders, and the hidden files and resource forks (__MACOSX) archivers add."""
    hidden = (part for part in path.parts if part not in (".", ".."))
    return info.is_dir() or any(part.startswith((".", "__MACOSX")) for part in hidden)


def _zip_members(
    name: str, file: File, *, room: int | None, max_files: int | None
) -> Iterator[tuple[str, File] | UploadRejected]:
    """The files inside a .zip, each as its path in the archive and its content, or as the reason it
    cannot be unpacked; folders and hidden files are skipped.

    The archive's limits are checked from its table of contents before anything is unpacked (entries,
    bytes it unpacks to, and the `room` left of this upload's `max_files`), raising UploadRejected for it;
    then each member is unpacked no further than the size it declares.
    """
    try:
        archive = archives.open_archive(file, max_members=settings.MAX_ZIP_MEMBERS)
    except archives.ArchiveProblem as problem:
        raise UploadRejected(name, str(problem)) from None
    with archive:
        members = [(archives.member_name(info), info) for info in archive.infolist()]
        members = [(member, info) for member, info in members if not _skipped(PurePosixPath(member), info)]
        _check_archive(name, [info for _member, info in members], room=room, max_files=max_files)
        for member, info in members:
            reason = archives.unreadable_reason(info)
            if reason is None and info.file_size > settings.MAX_UPLOAD_MB * MB:
                reason = _over_upload_limit(info.file_size)
            if reason:
                yield UploadRejected(member, reason)
                continue
            with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as spool:
                try:
                    size = archives.unpack(archive, info, spool, limit=info.file_size)
                except archives.MemberTooLarge:
                    yield UploadRejected(member, _unpacks_past_declared(info))
                    continue
                except archives.ArchiveProblem as problem:
                    yield UploadRejected(member, str(problem))
                    continue
                content = File(spool, name=PurePosixPath(member).name)
                content.size = size
                yield member, content


def _check_archive(
    name: str, members: list[zipfile.ZipInfo], *, room: int | None, max_files: int | None
) -> None:
    unpacked = sum(info.file_size for info in members)
    if unpacked > settings.MAX_ZIP_UNPACKED_MB * MB:
        reason = _(
            "the archive unpacks to %(size)s MB; the limit is %(limit)d MB (setting MAX_ZIP_UNPACKED_MB)."
        )
        raise UploadRejected(
            name, reason % {"size": f"{unpacked / MB:,.1f}", "limit": settings.MAX_ZIP_UNPACKED_MB}
        )
    if room is not None and len(members) > room:
        reason = _(
            "the archive holds %(count)s files, more than the %(room)s this upload can still take "
            "(%(limit)s files per upload, setting MAX_UPLOAD_FILES)."
        )
        raise UploadRejected(
            name, reason % {"count": f"{len(members):,}", "room": room, "limit": f"{max_files:,}"}
        )


def _unpacks_past_declared(info: zipfile.ZipInfo) -> str:
    return _("it unpacks to more than the %(size)s bytes it declares; the archive is damaged or crafted.") % {
        "size": f"{info.file_size:,}"
    }


def _readable(name: str) -> str:
    """The name as a title: control characters (a NUL, line breaks) dropped; cut in the middle to fit
    the title's 300 characters, keeping the extension the file's type is judged by."""
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc").strip()
    if len(name) <= TITLE_CHARS:
        return name
    suffix = PurePosixPath(name).suffix[:16]
    return name[: TITLE_CHARS - len(suffix) - 1] + "…" + suffix


@dataclass
class _Upload:
    """One upload under way: what became of each file so far, and the documents still to queue."""

    knowledge_base: KnowledgeBase
    user: object
    enqueue: bool
    max_files: int | None
    report: UploadReport = field(default_factory=UploadReport)
    unsent: list[Document] = field(default_factory=list)
    taken: int = 0  # files and archive members counted against max_files

    @property
    def room(self) -> int | None:
        return None if self.max_files is None else self.max_files - self.taken

    def add_file(self, name: str, file: File) -> None:
        if self.room is not None and self.room <= 0:
            reason = _("not uploaded: one upload takes at most %(limit)s files (setting MAX_UPLOAD_FILES).")
            self.report.rejected.append(UploadRejected(name, reason % {"limit": f"{self.max_files:,}"}))
            return
        self.taken += 1
        self._store(name, file)

    def add_archive(self, name: str, file: File) -> None:
        try:
            for item in _zip_members(name, file, room=self.room, max_files=self.max_files):
                self.taken += 1
                if isinstance(item, UploadRejected):
                    self.report.rejected.append(item)
                else:
                    self._store(*item)
        except UploadRejected as exc:
            self.report.rejected.append(exc)

    def _store(self, name: str, file: File) -> None:
        name = _readable(name) or _("(no name)")
        try:
            sha256 = upload_check(knowledge_base=self.knowledge_base, file=file, name=name)
            document = Document(knowledge_base=self.knowledge_base, title=name)
            document_store(document=document, file=file, name=name, sha256=sha256, user=self.user)
        except DuplicateDocument as exc:
            self.report.duplicates.append(exc)
            return
        except UploadRejected as exc:
            self.report.rejected.append(exc)
            return
        except (OSError, SuspiciousFileOperation) as exc:  # the storage failed: this file, not the rest
            logger.exception("Storing the upload %r failed", name)
            reason = _("it could not be stored (%(error)s).") % {"error": exc}
            self.report.rejected.append(UploadRejected(name, reason))
            return
        self.report.created.append(document)
        self.unsent.append(document)
        if self.enqueue and len(self.unsent) == settings.INGEST_GROUP_SIZE:
            # Workers start on the first groups while the rest of a large upload is still stored.
            documents_enqueue(documents=self.unsent[:])
            self.unsent.clear()


def upload_files(
    *,
    knowledge_base: KnowledgeBase,
    files: Iterable[tuple[str, File]],
    user=None,
    enqueue: bool = True,
    max_files: int | None = None,
) -> UploadReport:
    """Store each file (and each document inside a .zip) as its own document, and queue them in groups.

    Every file and archive member is its own result (created, duplicate, or rejected with a reason),
    whatever becomes of the others. Requests pass `max_files` (MAX_UPLOAD_FILES): the files, archive
    members included, one upload may turn into documents.
    """
    upload = _Upload(knowledge_base=knowledge_base, user=user, enqueue=enqueue, max_files=max_files)
    for name, file in files:
        if Path(name).suffix.lower() == ".zip":
            upload.add_archive(name, file)
        else:
            upload.add_file(name, file)
    if enqueue:
        documents_enqueue(documents=upload.unsent)
    audit_trail.record_upload(knowledge_base=knowledge_base, report=upload.report, user=user)
    return upload.report


def documents_enqueue(*, documents: list[Document]) -> None:
    """Send the documents to the workers in groups, once the current transaction commits; documents
    with scans go to the OCR worker one by one.

    A document whose message cannot be sent stays queued with a visible reason; the periodic
    sweep sends it again when the broker is back.
    """
    from knowledge.tasks import ingest_documents, ingest_scanned_documents

    sends = [(ingest_documents, group) for group in _groups([d for d in documents if not d.needs_ocr])]
    sends += [(ingest_scanned_documents, [d.id]) for d in documents if d.needs_ocr]

    def send() -> None:
        for task, group in sends:
            try:
                task.apply_async(
                    args=[group],
                    retry=False,
                    soft_time_limit=settings.INGEST_TASK_SOFT_SECONDS,
                    time_limit=settings.INGEST_TASK_HARD_SECONDS,
                )
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


def _groups(documents: list[Document]) -> list[list[int]]:
    """Ids in groups of up to INGEST_GROUP_SIZE documents whose files add up to at most INGEST_GROUP_MB;
    a file of that size or more makes a group of its own."""
    groups: list[list[int]] = []
    group: list[int] = []
    total = 0
    for document in documents:
        full = (
            len(group) == settings.INGEST_GROUP_SIZE or total + document.size > settings.INGEST_GROUP_MB * MB
        )
        if group and full:
            groups.append(group)
            group, total = [], 0
        group.append(document.id)
        total += document.size
    if group:
        groups.append(group)
    return groups


def documents_reindex(*, documents: Iterable[Document], user=None) -> int:
    """Queue documents again (ready, failed or stuck); their file is read and indexed anew. `user`
    asked for it (None: a command)."""
    ids = [document.id for document in documents]
    Document.objects.filter(id__in=ids).update(
        status=Document.Status.QUEUED, error="", chunks_done=0, chunks_total=0, updated_at=timezone.now()
    )
    queued = list(Document.objects.filter(id__in=ids))
    documents_enqueue(documents=queued)
    audit_trail.record_reindex(documents=queued, user=user)
    return len(ids)


def document_replace(*, document: Document, file: File, name: str, title: str, user=None) -> Document:
    """A newer version of the document's content (a synced page that changed): stored in place of the
    old file, which is deleted once this commits, and queued to be indexed anew. UploadRejected when
    the content cannot be a document of its knowledge base (another document has the same)."""
    sha256 = upload_check(knowledge_base=document.knowledge_base, file=file, name=name)
    old = FieldFile(document, document.file.field, document.file.name)
    with transaction.atomic():
        document.title = title
        document.error, document.chunks_done, document.chunks_total = "", 0, 0
        document_store(document=document, file=file, name=name, sha256=sha256, user=user)
        _delete_files_on_commit([old])
        documents_enqueue(documents=[document])
        audit_trail.record_reindex(documents=[document], user=user)
    return document


def documents_requeue_stalled() -> int:
    """Queue again what no worker is moving: processing without a heartbeat, and queued messages
    that never reached the broker or were lost. Running a document twice is harmless."""
    now = timezone.now()
    stalled = Document.objects.filter(
        status=Document.Status.PROCESSING,
        updated_at__lt=now - timedelta(seconds=settings.INGEST_STALE_SECONDS),
    )
    lost = list(stalled.values_list("id", flat=True))
    Document.objects.filter(id__in=lost, status=Document.Status.PROCESSING).update(
        status=Document.Status.QUEUED, error=WORKER_LOST, updated_at=now
    )
    # The ones re-queued now are sent now, once: while they wait for a free worker process (the sweep
    # no longer waits behind ingestion) they are queued with a message on its way, not lost again.
    waiting = Document.objects.filter(status=Document.Status.QUEUED).filter(
        Q(
            queued_at__isnull=True,
            updated_at__lt=now - timedelta(seconds=settings.INGEST_RESEND_UNSENT_SECONDS),
        )
        | Q(queued_at__lt=now - timedelta(seconds=settings.INGEST_RESEND_QUEUED_SECONDS))
        | Q(id__in=lost)
    )
    documents = list(waiting)
    documents_enqueue(documents=documents)
    if lost or documents:
        logger.info("Re-queued %d stalled and %d waiting documents", len(lost), len(documents))
    return len(documents)


def _delete_files_on_commit(files: list[FieldFile]) -> None:
    """Delete stored originals through their storage once the rows naming them are gone for good.

    After the commit, so that a deletion rolled back keeps its files. A file the storage fails to
    delete is logged with its name, and the deletion stands: the rows and the index agree, and a
    leftover file is only space, whereas a row pointing at a missing file would be a broken document.
    """

    def delete() -> None:
        for file in files:
            if not file.name:
                continue  # a FieldFile without a name has no stored file
            try:
                file.storage.delete(file.name)
            except Exception:  # any storage's error (OSError, an object store's client error)
                logger.exception("Stored file %s could not be deleted; delete it by hand", file.name)

    transaction.on_commit(delete)


def document_delete(*, document: Document, user=None) -> None:
    """Delete a document with its chunks, vectors and file; `user` deleted it (None: a command)."""
    with transaction.atomic():
        audit_trail.record_document_delete(document=document, user=user)
        chunk_ids = list(document.chunks.values_list("id", flat=True))
        document.delete()
        _delete_files_on_commit([document.file])
        index_log.record_chunks(removed={document.knowledge_base_id: chunk_ids})


def knowledge_base_delete(*, knowledge_base: KnowledgeBase, user=None) -> None:
    """Delete a knowledge base with its documents and their files; every node drops its index when it
    applies the logged drop. `user` deleted it (None: a command)."""
    kb_id = knowledge_base.id
    with transaction.atomic():
        files = [document.file for document in knowledge_base.documents.only("id", "file")]
        audit_trail.record_knowledge_base_delete(
            knowledge_base=knowledge_base, documents=len(files), user=user
        )
        knowledge_base.delete()
        _delete_files_on_commit(files)
        index_log.record_drop(kb_id=kb_id)


def knowledge_base_rebuild_index(*, knowledge_base: KnowledgeBase, user=None) -> int:
    """Rebuild the knowledge base's index from the chunks in the database, on this node now and on
    every other node when it reaches the logged rebuild; returns this node's vector count. `user`
    asked for it (None: a command)."""
    index_log.record_rebuild(kb_id=knowledge_base.id)
    index_sync.catch_up()
    count = len(search_index.backend().ids(knowledge_base.id))
    audit_trail.record_rebuild(knowledge_base=knowledge_base, vectors=count, user=user)
    return count


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
    index_sync.ensure_current()
    chunk_ids = set(Chunk.objects.filter(knowledge_base=knowledge_base).values_list("id", flat=True))
    vector_ids = search_index.backend().ids(knowledge_base.id)
    return IndexCheck(
        knowledge_base,
        chunks=len(chunk_ids),
        vectors=len(vector_ids),
        missing=len(chunk_ids - vector_ids),
        orphans=len(vector_ids - chunk_ids),
    )
