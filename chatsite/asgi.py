import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# A web process embeds only questions, on one thread (knowledge/embedding.py). OpenMP's default is a
# thread per core, and the spare ones spin after each question: on two cores that cost 68 ms of CPU
# per English question besides the 17 ms of the embedding itself. Read when torch loads, after this.
os.environ.setdefault("OMP_NUM_THREADS", "1")

django_application = get_asgi_application()
# WhiteNoise serves static files with a synchronous iterator; that is fine for small files.
warnings.filterwarnings("ignore", "StreamingHttpResponse must consume synchronous iterators")

from api import mcp_server  # noqa: E402  (needs the app registry)
from chat import openai_compatible  # noqa: E402
from chatsite import draining  # noqa: E402
from chatsite.lifespan import entered, with_lifespan  # noqa: E402
from knowledge import index_sync, lexical  # noqa: E402
from knowledge.embedding import warm_up  # noqa: E402

# The server binds its port only once the model and its probe, jieba's dictionary and this node's
# search indexes are loaded, built or caught up, so the first question waits for none of them
# (uvicorn runs the lifespan startup before it listens). Each web process loads its own model. On
# shutdown, answers still streaming get the grace period (chatsite/draining.py), then the index sync
# thread stops. The answers' upstream connections are pooled for the server's life. /mcp is the MCP
# server (api/mcp_server.py), whose session manager runs for the server's life too; its answers get
# the same grace period before it stops.
start_mcp, stop_mcp = entered(mcp_server.sessions.run)
application = with_lifespan(
    mcp_server.mounted(django_application),
    startup=[
        *(warm_up, lexical.warm_up, index_sync.start, openai_compatible.open_pool, draining.start),
        start_mcp,
    ],
    shutdown=[draining.finish, stop_mcp, openai_compatible.close_pool, index_sync.stop],
)
