from celery import shared_task

from sources import syncing


@shared_task(ignore_result=True, acks_late=True)
def sync_source(source_id: int, trigger: str, claimed: bool = False) -> None:
    syncing.source_sync(source_id=source_id, trigger=trigger, claimed=claimed)


@shared_task(ignore_result=True)
def sync_due_sources() -> int:
    return syncing.sources_sync_due()
