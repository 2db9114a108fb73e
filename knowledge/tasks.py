from celery import shared_task

from knowledge import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def ingest_document(document_id: int) -> None:
    services.document_ingest(document_id=document_id)
