"""Two web nodes and a worker that share only PostgreSQL, Redis and object storage: each node keeps its
own search indexes in its own DATA_DIR, built and kept current from the database."""

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from api.services import api_key_create
from chat.models import Conversation
from knowledge import index, index_sync, search_index
from knowledge.models import Chunk, Document
from tests.conftest import PRODUCTS
from tests.processes import asgi_server, celery_worker, started_together, use_data_dir, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Nodes on several machines share a PostgreSQL server; SQLite is one machine's file.",
    ),
]
QUESTION = "How much memory does the Atlas server need?"


def on_disk(settings, data_dir: Path, kb_id: int) -> set[int]:
    """The chunk ids a node's index holds, read from its folder as it left it (no catching up)."""
    use_data_dir(settings, data_dir)
    index._cache.clear()
    return search_index.backend().ids(kb_id)


def events(response: requests.Response) -> Iterator[tuple[str, dict]]:
    name = ""
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


@pytest.fixture
def env(s3_env, fake_llm) -> dict[str, str]:
    return {
        **s3_env,
        "CACHE_URL": django_settings.SHARED_CACHE["LOCATION"],
        "LLM_BASE_URL": fake_llm.base_url,
        "LLM_API_KEY": "sk-test",
        "SECRET_KEY": django_settings.SECRET_KEY,  # so that the nodes know the test's session
        "INDEX_SYNC_SECONDS": "1",
    }


def test_two_nodes_share_documents_answers_and_stops(
    env, manager, kb, fake_llm, s3_server, settings, tmp_path
):
    secret = api_key_create(user=manager, name="tests")[1]
    api = {"Authorization": f"Bearer {secret}"}
    browser = Client()
    browser.force_login(manager)
    csrf = secrets.token_hex(16)
    page = {
        "Cookie": f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }
    data_a, data_b, data_worker = (tmp_path / name for name in ("node-a", "node-b", "worker"))
    with ExitStack() as stack:
        node_a, _worker = started_together(
            stack,
            asgi_server(data_a, log=tmp_path / "node-a.log", **env),
            celery_worker(data_worker, log=tmp_path / "worker.log", **env),
        )

        # Uploaded on A, read by the worker, in every node's index within seconds.
        upload = requests.post(
            f"{node_a}/api/v1/knowledge-bases/{kb.slug}/documents/",
            files={"files": ("atlas.txt", PRODUCTS["atlas.txt"].encode())},
            headers=api,
            timeout=30,
        )
        assert upload.status_code == 201, upload.text
        document = Document.objects.get()
        wait_for(lambda: Document.objects.filter(status=Document.Status.READY).exists(), 60, "the document")
        chunks = set(Chunk.objects.filter(document=document).values_list("id", flat=True))
        stored = s3_server.keys()
        assert document.file.name in stored
        wait_for(lambda: on_disk(settings, data_a, kb.id) == chunks, 30, "node A's background catch-up")

        # A node started later has built its index before it listens.
        node_b = stack.enter_context(
            asgi_server(data_b, log=tmp_path / "node-b.log", **{**env, "INDEX_SYNC_SECONDS": "3600"})
        )
        assert on_disk(settings, data_b, kb.id) == chunks
        assert index_sync.status().lag == 0

        # Asked on B: cited, and the original is downloaded from B (out of object storage).
        conversation = Conversation.objects.create(user=manager)
        conversation.knowledge_bases.set([kb])
        fake_llm.script(reasoning="Passage [1] says it.", content="It needs 64 GB of memory [1].")
        asked = requests.post(
            f"{node_b}/api/v1/conversations/{conversation.id}/ask/",
            json={"question": QUESTION, "stream": False},
            headers=api,
            timeout=60,
        )
        assert asked.status_code == 200, asked.text
        assert [c["document_id"] for c in asked.json()["citations"]] == [document.id]
        original = requests.get(f"{node_b}/documents/{document.id}/download/", headers=page, timeout=30)
        assert original.content == PRODUCTS["atlas.txt"].encode()

        # A stop pressed on B stops the answer A is streaming.
        fake_llm.script(reasoning="Thinking. " * 20, content="Memory. " * 200, delay=0.05)
        form = {"question": QUESTION, "knowledge_base": str(kb.id)}
        with requests.post(f"{node_a}/ask/", data=form, headers=page, timeout=60, stream=True) as streaming:
            seen = events(streaming)
            message_id = next(data["message_id"] for _name, data in seen if "message_id" in data)
            stop = requests.post(f"{node_b}/messages/{message_id}/stop/", headers=page, timeout=30)
            assert stop.json()["stopping"] is True
            done = next(data for name, data in seen if name == "done")
        assert done["status"] == "stopped"

        # Deleted on B: gone from A's search.
        search = f"{node_a}/api/v1/knowledge-bases/{kb.slug}/search/"
        found = requests.post(search, json={"query": QUESTION}, headers=api, timeout=30).json()["passages"]
        assert {p["document_id"] for p in found} == {document.id}
        deleted = requests.delete(f"{node_b}/api/v1/documents/{document.id}/", headers=api, timeout=30)
        assert deleted.status_code == 204, deleted.text
        wait_for(lambda: on_disk(settings, data_a, kb.id) == set(), 30, "node A to drop the chunks")
        found = requests.post(search, json={"query": QUESTION}, headers=api, timeout=30).json()["passages"]
        assert found == []
