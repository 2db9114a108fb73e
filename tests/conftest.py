import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.core.files import File
from django.db import connections
from django.test import Client
from django.utils import translation

from chat import answering, rate_limits
from chat.models import Conversation, Message
from knowledge import embedding, index, index_sync, ingestion, search_index, services, tasks
from knowledge.models import Document, KnowledgeBase
from policy import matching as policy_matching
from tests.browser import chromium, live_app, page  # noqa: F401  (fixtures)
from tests.directory import directory  # noqa: F401  (a fixture)
from tests.fake_llm import fake_llm  # noqa: F401  (a fixture)
from tests.processes import use_data_dir

pytest_plugins = [
    "tests.api_fixtures",
    "tests.source_site",
    "tests.faq_fixtures",
    "tests.share_fixtures",
    "tests.object_storage",
    "tests.fake_embeddings",
]
CORPUS = Path(__file__).resolve().parent / "data" / "deepseek-r1-guide.zh.md"


@pytest.fixture(scope="session", autouse=True)
def _embedder() -> Iterator[None]:
    """Load the embedding model once for the whole session, and embed each distinct text once.

    The vectors are the model's own; remembering them only saves re-encoding the same corpus in
    every test.
    """
    embedding.get_model()
    real_embed = embedding.embed
    remembered: dict[str, np.ndarray] = {}

    def embed(texts, *, batch_size=None):
        missing = [text for text in dict.fromkeys(texts) if text not in remembered]
        if missing:
            remembered.update(zip(missing, real_embed(missing, batch_size=batch_size), strict=True))
        return (
            real_embed([], batch_size=batch_size) if not texts else np.stack([remembered[t] for t in texts])
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embedding, "embed", embed)
        yield


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pools(django_db_setup, django_db_blocker) -> Iterator[None]:
    """PostgreSQL's connection pool keeps connections open: close it before the test database is
    dropped."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()


@pytest.fixture(autouse=True)
def _fresh_indexes(settings, tmp_path) -> None:
    """Each test gets its own index folder: row ids are reused after rollbacks, indexes must not be."""
    use_data_dir(settings, tmp_path)
    index._cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts and ends in the default language: the locale middleware leaves the language
    of a test's last request active in its thread, for whatever runs there next."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_word_lists() -> None:
    """Each test starts from the word lists of its own database: a test's lists go with its database,
    where production deletes them through policy.services, which announces the change."""
    cache.delete(policy_matching.STAMP_KEY)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Each test starts with no use of any rate limit recorded (user ids recur after rollbacks)."""
    rate_limits._limiter.cache_clear()
    rate_limits._limiter(django_settings.RATE_LIMITS_STORAGE).storage.reset()


@pytest.fixture(autouse=True)
def _no_stale_stops() -> None:
    """Each test starts with no stop request left in the cache by another for a message id reused."""
    cache.clear()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sync_orm_in_async(monkeypatch) -> None:
    """Let the test's own synchronous ORM calls run while an event loop runs in its thread (async
    views under the test client, asyncio.run, Playwright); Django refuses them otherwise."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def readers(db) -> Group:
    return Group.objects.create(name="readers")


def person(name: str, *groups: Group) -> User:
    """A user in `groups` whose password is `<name>-password-1`."""
    someone = User.objects.create_user(name, password=f"{name}-password-1")
    someone.groups.add(*groups)
    return someone


def signed_in(user: User) -> Client:
    """A test client of its own, signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def user(readers) -> User:
    """Reads the knowledge base `kb`; the owner of what a test creates."""
    return person("alice", readers)


@pytest.fixture
def other(readers) -> User:
    """Reads the same knowledge base as the owner, but owns nothing of theirs."""
    return person("bob", readers)


@pytest.fixture
def outsider(db) -> User:
    return person("mallory")


def knowledge_manager(name: str, group: Group) -> User:
    """A staff member in `group` with every permission on knowledge bases, documents and FAQ pairs."""
    manager = person(name, group)
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    codenames = [
        f"{action}_{model}"
        for action in ("add", "change", "view", "delete")
        for model in ("document", "knowledgebase")
    ]
    faq = [f"{action}_faqpair" for action in ("add", "change", "view", "delete")]
    manager.user_permissions.set(
        Permission.objects.filter(content_type__app_label="knowledge", codename__in=codenames)
        | Permission.objects.filter(content_type__app_label="faq", codename__in=faq)
    )
    return manager


@pytest.fixture
def manager(readers) -> User:
    """May read the knowledge base `kb` and manage knowledge bases and documents (API and admin)."""
    return knowledge_manager("carol", readers)


@pytest.fixture
def sales(db) -> Group:
    return Group.objects.create(name="sales")


@pytest.fixture
def other_manager(sales) -> User:
    """Holds the same permissions as `manager`, in another group: manages `other_kb`, not `kb`."""
    return knowledge_manager("dave", sales)


@pytest.fixture
def other_kb(sales) -> KnowledgeBase:
    """Read by `sales` only."""
    knowledge_base = KnowledgeBase.objects.create(name="Sales price list", slug="sales-prices")
    knowledge_base.groups.add(sales)
    return knowledge_base


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """The ids of the documents handed to the task queue."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.ingest_documents, "apply_async", lambda args, **kw: ids.extend(args[0]))
    return ids


@pytest.fixture
def kb(readers) -> KnowledgeBase:
    knowledge_base = KnowledgeBase.objects.create(name="Guide", slug="guide")
    knowledge_base.groups.add(readers)
    return knowledge_base


@pytest.fixture
def exchange(user) -> Conversation:
    """Alice's conversation with one finished question and answer."""
    conversation = Conversation.objects.create(user=user, title="Leave")
    question = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, content="How much leave?"
    )
    Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, content="25 days.", reply_to=question
    )
    return conversation


def ingest(knowledge_base: KnowledgeBase, path: Path, name: str | None = None) -> Document:
    """Upload and ingest a file in this process, through the same services the worker runs."""
    with path.open("rb") as handle:
        report = services.upload_files(
            knowledge_base=knowledge_base, files=[(name or path.name, File(handle))], enqueue=False
        )
    if report.duplicates or report.rejected:
        raise (report.duplicates + report.rejected)[0]
    document = report.created[0]
    ingestion.ingest_documents(document_ids=[document.id])
    document.refresh_from_db()
    return document


def indexed(kb_id: int) -> set[int]:
    """The chunk ids this node's index of the knowledge base holds once it has applied the log."""
    index_sync.ensure_current()
    return search_index.backend().ids(kb_id)


# Two short documents that share words, for ranking and follow-up questions.
PRODUCTS = {
    "atlas.txt": "How much memory does the Atlas server need? The Atlas server needs 64 GB of memory.",
    "boreal.txt": "The Boreal laptop is light and made for travel. It ships with 16 GB of memory.",
}


def ingest_texts(knowledge_base: KnowledgeBase, folder: Path, texts: dict[str, str]) -> None:
    """Write each text to a file of its name in `folder` and ingest it."""
    for name, text in texts.items():
        path = folder / name
        path.write_text(text)
        ingest(knowledge_base, path)


QUESTION = "DeepSeek-V3 有多少参数？"


def ask(
    user: User, kb: KnowledgeBase, question: str = QUESTION, conversation: Conversation | None = None
) -> list:
    """The answer path's events for one question, in a new conversation on `kb` unless one is given."""
    if conversation is None:
        conversation = Conversation.objects.create(user=user)
        conversation.knowledge_bases.set([kb])

    async def collect() -> list[tuple[str, dict]]:
        stream = answering.answer_question(user=user, conversation=conversation, question=question)
        return [event async for event in stream]

    return asyncio.run(collect())


@pytest.fixture
def guide(kb) -> Document:
    """The Chinese DeepSeek-R1 guide, ingested into `kb`."""
    return ingest(kb, CORPUS)


@pytest.fixture
def llm(settings, fake_llm):  # noqa: F811
    """Point the app at the test upstream."""
    settings.LLM_BASE_URL = fake_llm.base_url
    settings.LLM_API_KEY = "sk-test"
    return fake_llm


@pytest.fixture
def two_models(settings, fake_llm):  # noqa: F811
    """Two language models on the test upstream: DeepSeek-R1 (the default) and DeepSeek-V3."""
    settings.LLM_MODELS = [
        {"name": "DeepSeek-R1", "model": "deepseek-reasoner", "base_url": fake_llm.base_url},
        {"name": "DeepSeek-V3", "model": "deepseek-chat", "base_url": fake_llm.base_url, "reasoning": False},
    ]
    return fake_llm


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Let fixtures see whether the test failed (the browser fixture saves a screenshot then)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
