from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from django.conf import settings

from knowledge import index_log, ingestion, reembedding, services


class IngestTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # After a hard time limit this runs in the worker's main process, the pool process that held
        # the documents having been killed; the sweep's queue records why they stopped.
        if isinstance(exc, TimeLimitExceeded):
            fail_stopped_documents.delay(args[0])


# Its time limits travel with each message (services.documents_enqueue), as Celery takes them from
# the sender: INGEST_TASK_SOFT_SECONDS and INGEST_TASK_HARD_SECONDS as they are when it is sent.
@shared_task(base=IngestTask, acks_late=True, reject_on_worker_lost=True)
def ingest_documents(document_ids: list[int]) -> None:
    ingestion.ingest_documents(document_ids=document_ids)


# Documents with scans, on the OCR worker's queue (settings.CELERY_TASK_ROUTES), one per task.
@shared_task(base=IngestTask, acks_late=True, reject_on_worker_lost=True)
def ingest_scanned_documents(document_ids: list[int]) -> None:
    ingestion.ingest_documents(document_ids=document_ids, read_scans=True)


@shared_task(ignore_result=True)
def requeue_stalled_documents() -> int:
    return services.documents_requeue_stalled()


@shared_task(ignore_result=True)
def fail_stopped_documents(document_ids: list[int]) -> int:
    return ingestion.documents_fail_stopped(document_ids=document_ids)


@shared_task(ignore_result=True)
def prune_index_changes() -> int:
    return index_log.prune(days=settings.INDEX_CHANGES_KEEP_DAYS)


# Resumable: a redelivered message embeds only the chunks that have no new vector yet.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reembed_knowledge_base(kb_id: int, attempt: int) -> None:
    reembedding.knowledge_base_reembed(kb_id=kb_id, attempt=attempt)
