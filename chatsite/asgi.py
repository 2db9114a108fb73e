import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

django_application = get_asgi_application()
# WhiteNoise serves static files with a synchronous iterator; that is fine for small files.
warnings.filterwarnings("ignore", "StreamingHttpResponse must consume synchronous iterators")

from chatsite import draining  # noqa: E402  (needs the app registry)
from chatsite.lifespan import with_lifespan  # noqa: E402
from knowledge.embedding import warm_up  # noqa: E402

# The server binds its port only once the model and its probe are loaded, so the first question
# does not wait for them (uvicorn runs the lifespan startup before it listens). Each web process
# loads its own. On shutdown, answers still streaming get the grace period (chatsite/draining.py).
application = with_lifespan(django_application, startup=[warm_up, draining.start], shutdown=[draining.finish])
