"""Syncing a source: its pages or files become documents, changed ones are indexed anew, those gone
are removed, and every sync leaves a record (SyncRun). Documents are written through the knowledge
services, so ingestion, the index and the audit trail stay as they are for uploads."""

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from time import monotonic

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge import audit_trail, services
from knowledge.models import Document
from sources import audit_trail as source_audit_trail
from sources import folders, network, web
from sources.models import Source, SourceItem, SyncRun
from sources.outcomes import Failed, Found, SyncAborted, SyncStopped

logger = logging.getLogger(__name__)
# Failures (and duplicates) listed on a sync's record; the count says how many there were in all.
SYNC_PROBLEMS_KEPT = 200
Collector = Callable[..., Iterator[Found | Failed]]
COLLECTORS: dict[str, Collector] = {Source.Kind.WEB: web.collect, Source.Kind.FOLDER: folders.collect}


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.SOURCE_SYNC_STALE_SECONDS)


def _free() -> Q:
    return Q(syncing_since__isnull=True) | Q(syncing_since__lt=_stale_before())


def _take(source_id: int) -> bool:
    """Mark the source as syncing, unless a sync of it is queued or runs: one at a time per source."""
    return Source.objects.filter(_free(), id=source_id).update(syncing_since=timezone.now()) == 1


class _Sync:
    def __init__(self, source: Source, run: SyncRun):
        self.source = source
        self.run = run
        self.items = {item.location: item for item in source.items.select_related("document")}
        self.added = services.UploadReport()

    def fail(self, location: str, reason: str) -> None:
        self.run.failed += 1
        if len(self.run.problems) < SYNC_PROBLEMS_KEPT:
            self.run.problems.append({"location": location, "reason": reason})

    def duplicate(self, location: str, existing: Document) -> None:
        """A page with the content of another document (the same page under two URLs, say): skipped
        and counted as unchanged, its URL named once on the record, the other document kept."""
        self.run.unchanged += 1
        if len(self.run.duplicates) < SYNC_PROBLEMS_KEPT:
            same_as = existing.source_location or existing.title
            self.run.duplicates.append({"location": location, "same_as": same_as})

    def apply(self, found: Found) -> None:
        item = self.items.get(found.location)
        if found.content is None or (item and item.content_hash == _sha256(found.content)):
            if item is not None:
                SourceItem.objects.filter(id=item.id).update(
                    etag=found.etag, last_modified=found.last_modified
                )
            self.run.unchanged += 1
            return
        file = ContentFile(found.content, name=found.name)
        try:
            if item is None:
                self.add(found, file)
            else:
                services.document_replace(
                    document=item.document, file=file, name=found.name, title=found.title
                )
                item.etag, item.last_modified = found.etag, found.last_modified
                item.content_hash = _sha256(found.content)
                item.save(update_fields=["etag", "last_modified", "content_hash"])
                self.run.changed += 1
        except services.DuplicateDocument as duplicate:
            self.duplicate(found.location, duplicate.existing)
        except services.UploadRejected as rejected:
            self.fail(found.location, rejected.reason)

    def add(self, found: Found, file: ContentFile) -> None:
        kb = self.source.knowledge_base
        sha256 = services.upload_check(knowledge_base=kb, file=file, name=found.name)
        with transaction.atomic():
            document = Document(knowledge_base=kb, title=found.title, source_location=found.location)
            services.document_store(document=document, file=file, name=found.name, sha256=sha256)
            SourceItem.objects.create(
                source=self.source,
                location=found.location,
                document=document,
                etag=found.etag,
                last_modified=found.last_modified,
                content_hash=sha256,
            )
            services.documents_enqueue(documents=[document])
        self.added.created.append(document)
        self.run.added += 1

    def remove_unseen(self, seen: set[str]) -> None:
        for location, item in self.items.items():
            if location not in seen:
                services.document_delete(document=item.document)
                self.run.removed += 1

    def go(self) -> None:
        """Apply what the collector finds; past SOURCE_SYNC_MAX_MINUTES stop (SyncStopped) and remove
        nothing, since what was not reached was not checked."""
        seen: set[str] = set()
        deadline = monotonic() + settings.SOURCE_SYNC_MAX_MINUTES * 60
        try:
            for outcome in COLLECTORS[self.source.kind](source=self.source, items=self.items):
                seen.add(outcome.location)
                if isinstance(outcome, Failed):
                    self.fail(outcome.location, outcome.reason)
                else:
                    self.apply(outcome)
                if monotonic() > deadline:
                    minutes = settings.SOURCE_SYNC_MAX_MINUTES
                    raise SyncStopped(
                        _("stopped: time limit of %(minutes)d minutes (setting SOURCE_SYNC_MAX_MINUTES).")
                        % {"minutes": minutes}
                    )
            self.remove_unseen(seen)
        finally:
            if self.added.created:
                audit_trail.record_upload(
                    knowledge_base=self.source.knowledge_base, report=self.added, user=None
                )


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def source_sync(*, source_id: int, trigger: str, claimed: bool = False) -> SyncRun | None:
    """Sync the source now, in this process; None when a sync of it is already running (or it is
    gone). `claimed`: the sync was queued by source_sync_later, which marked the source as syncing."""
    if not claimed and not _take(source_id):
        return None
    source = Source.objects.select_related("knowledge_base").filter(id=source_id).first()
    if source is None:
        return None
    run = SyncRun.objects.create(source=source, trigger=trigger)
    try:
        _Sync(source, run).go()
        run.status = SyncRun.Status.PARTIAL if run.failed else SyncRun.Status.DONE
    except SyncStopped as stopped:
        run.status, run.error = SyncRun.Status.STOPPED, str(stopped)
    except (SyncAborted, network.Refused) as stopped:
        run.status, run.error = SyncRun.Status.FAILED, str(stopped)
    except Exception as error:  # recorded on the run for the admin; the traceback goes to the log
        logger.exception("Sync of source %s failed", source_id)
        run.status, run.error = (
            SyncRun.Status.FAILED,
            _("unexpected error: %(error)s") % {"error": type(error).__name__},
        )
    finally:
        run.finished_at = timezone.now()
        run.save()
        source.schedule_next()
        source.syncing_since = None
        source.save(update_fields=["next_sync_at", "syncing_since"])
        source_audit_trail.record_sync(run=run)
    return run


def source_sync_later(*, source: Source, trigger: str) -> bool:
    """Send the source's sync to the workers once this transaction commits; False when one is queued
    or runs. The source is marked as syncing now, so that a second "sync now" is refused at once
    rather than queued to find the first one running."""
    if not _take(source.id):
        return False
    transaction.on_commit(lambda: _send(source.id, trigger))
    return True


def _send(source_id: int, trigger: str) -> None:
    from sources.tasks import sync_source

    try:
        sync_source.delay(source_id, trigger, True)
    except Exception:
        Source.objects.filter(id=source_id).update(syncing_since=None)  # not queued: free it again
        raise


def sources_sync_due() -> int:
    """Send the syncs of the enabled sources whose time has come; each is pushed to its next time at
    once, so that the next sweep does not send it again."""
    now = timezone.now()
    due = Source.objects.filter(_free(), enabled=True, interval_minutes__gt=0).filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    )
    count = 0
    for source in due:
        source.schedule_next()
        source.save(update_fields=["next_sync_at"])
        count += source_sync_later(source=source, trigger=SyncRun.Trigger.SCHEDULE)
    return count


def source_delete(*, source: Source, user=None) -> None:
    """Delete the source with the documents it made; `user` deleted it (None: a command)."""
    with transaction.atomic():
        items = list(source.items.select_related("document"))
        for item in items:
            services.document_delete(document=item.document, user=user)
        source_audit_trail.record_source_delete(source=source, documents=len(items), user=user)
        source.delete()
