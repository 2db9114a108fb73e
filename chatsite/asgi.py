import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

application = get_asgi_application()

from knowledge.embedding import warm_up_in_background  # noqa: E402  (needs the app registry)

warm_up_in_background()
