"""The app with its document search slowed down, to see what the chat page shows while it searches."""

import time

# isort: off
from chatsite.asgi import application  # sets Django up, before the app's models are imported
from chat import engine
# isort: on

SEARCH_SECONDS = 4.0
_retrieve_passages = engine.retrieve_passages


def _slow_retrieve_passages(**kwargs):
    time.sleep(SEARCH_SECONDS)
    return _retrieve_passages(**kwargs)


engine.retrieve_passages = _slow_retrieve_passages
__all__ = ["application"]
