import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

app = Celery("chatsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _on_worker_ready(**_kwargs) -> None:
    """Load the model as the worker starts, and pick up documents left behind while none ran."""
    from knowledge.embedding import warm_up_in_background
    from knowledge.tasks import requeue_stalled_documents

    warm_up_in_background()
    requeue_stalled_documents.delay()
