from celery import shared_task
from django.conf import settings

from audit import retention


@shared_task(ignore_result=True)
def purge_audit_log() -> int:
    """Daily, from the sweeper's beat (chatsite/workers.py): the events past AUDIT_RETENTION_DAYS."""
    return retention.purge_expired(days=settings.AUDIT_RETENTION_DAYS).removed
