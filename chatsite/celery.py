import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

app = Celery("chatsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _on_pool_process_start(**_kwargs) -> None:
    """Load the model as each process that ingests starts (a prefork pool process, or a solo worker),
    before its first document, on its share of the cores (the OCR worker on its OCR_THREADS); the
    sweeper never needs it."""
    from django.conf import settings

    from knowledge.embedding import load_in_background

    queues = app.amqp.queues.consume_from
    if settings.OCR_QUEUE in queues:
        load_in_background(threads=settings.OCR_THREADS)
    elif settings.INGEST_QUEUE in queues:
        cores = len(os.sched_getaffinity(0))
        load_in_background(threads=max(1, cores // settings.CELERY_WORKER_CONCURRENCY))


@worker_ready.connect
def _on_worker_ready(**_kwargs) -> None:
    """Pick up documents left behind while no worker ran."""
    from knowledge.tasks import requeue_stalled_documents

    requeue_stalled_documents.delay()
