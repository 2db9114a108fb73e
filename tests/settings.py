"""Test settings: the real settings module, with a throw-away DATA_DIR, and no LLM (nor follow-up
suggestions) unless a test sets one.

A developer's .env is not read. The Redis databases the tests use come from TEST_CELERY_BROKER_URL and
TEST_CACHE_URL, so two checkouts can run their suites side by side on one Redis.
"""

import os
import tempfile

os.environ["ENV_FILE"] = ""
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="kbchat-test-"))
for name in ("LLM_BASE_URL", "LLM_API_KEY", "DEEPSEEK_API_KEY", "EMBEDDING_MODEL"):
    os.environ[name] = ""
# Off unless a test turns them on: each is one more request to the test upstream after an answer.
os.environ["FOLLOW_UP_SUGGESTIONS"] = "false"
# The real broker of production; integration tests start real workers on it.
os.environ["CELERY_BROKER_URL"] = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")

from chatsite.settings import *  # noqa: E402,F403

# A cache the web processes share (CACHE_URL on Redis), for tests of what must cross processes.
SHARED_CACHE = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": os.environ.get("TEST_CACHE_URL", "redis://127.0.0.1:6379/11"),
}

# Users are created in nearly every test: hash their passwords cheaply (see tests/hashers.py).
PASSWORD_HASHERS = ["tests.hashers.OneIterationPBKDF2PasswordHasher"]

# Automatic relevance floors off: the suite's corpora are a few passages, and its tests of ranking
# expect every passage found. Tests of the floors set them (tests/test_relevance_floors.py).
RELEVANCE_FLOOR_LATIN = RELEVANCE_FLOOR_HAN = 0.0
