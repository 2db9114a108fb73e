from celery import shared_task

from knowledge import ingestion, services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def ingest_documents(document_ids: list[int]) -> None:
    ingestion.ingest_documents(document_ids=document_ids)


@shared_task(ignore_result=True)
def requeue_stalled_documents() -> int:
    return services.documents_requeue_stalled()
