import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

app = Celery("chatsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _load_embedding_model(**_kwargs) -> None:
    """Load the model as the worker starts, so the first document does not wait for it."""
    from knowledge.embedding import warm_up_in_background

    warm_up_in_background()
