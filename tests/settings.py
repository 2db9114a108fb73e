"""Test settings: the real settings module, with a throw-away DATA_DIR and no LLM unless a test sets one."""

import os
import tempfile

os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="kbchat-test-"))
for name in ("LLM_BASE_URL", "LLM_API_KEY", "DEEPSEEK_API_KEY", "CELERY_BROKER_URL", "EMBEDDING_MODEL"):
    os.environ[name] = ""

from chatsite.settings import *  # noqa: E402,F403
