import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

application = get_asgi_application()
# WhiteNoise serves static files with a synchronous iterator; that is fine for small files.
warnings.filterwarnings("ignore", "StreamingHttpResponse must consume synchronous iterators")

from knowledge.embedding import warm_up_in_background  # noqa: E402  (needs the app registry)

warm_up_in_background()
