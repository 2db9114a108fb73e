import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

django_application = get_asgi_application()
# WhiteNoise serves static files with a synchronous iterator; that is fine for small files.
warnings.filterwarnings("ignore", "StreamingHttpResponse must consume synchronous iterators")

from chatsite.lifespan import with_startup  # noqa: E402  (needs the app registry)
from knowledge import index_sync  # noqa: E402
from knowledge.embedding import warm_up  # noqa: E402


def start_up() -> None:
    warm_up()
    index_sync.start()


# The server binds its port only once the model and its probe are loaded and this node's search
# indexes are built or caught up, so the first question waits for neither (uvicorn runs the lifespan
# startup before it listens).
application = with_startup(django_application, start_up)
