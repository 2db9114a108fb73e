"""A change of embedder with the real processes: the admin's choice → the Celery worker on Redis
re-embeds through the embeddings server → the switch → this node's index answers with the new one."""

import json

import pytest
from django.urls import reverse

from knowledge import retrieval
from knowledge.models import KnowledgeBase
from tests.conftest import PRODUCTS, ingest_texts
from tests.fake_embeddings import _shared
from tests.processes import celery_worker, use_data_dir, wait_for
from tests.test_knowledge_base_grants import kb_form

pytestmark = pytest.mark.django_db(transaction=True)
NAME = "bge-m3 (test)"


@pytest.fixture(scope="module")
def worker_data_dir(django_db_setup, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("reembed-worker")
    embedders = json.dumps([_shared().embedder()])
    with celery_worker(data_dir, log=data_dir / "worker.log", EMBEDDERS=embedders):
        yield data_dir


def test_the_worker_re_embeds_a_knowledge_base_and_it_switches(
    worker_data_dir, multilingual, settings, kb, readers, tmp_path, django_user_model, client
):
    use_data_dir(settings, worker_data_dir)
    ingest_texts(kb, tmp_path, PRODUCTS)
    assert retrieval.search(query="哪台笔记本电脑适合出差？", knowledge_bases=[kb]).passages == []
    client.force_login(django_user_model.objects.create_superuser("root", password="root-password-1"))
    client.post(
        reverse("admin:knowledge_knowledgebase_change", args=[kb.id]), kb_form(readers, embedder=NAME)
    )

    def switched() -> KnowledgeBase | None:
        current = KnowledgeBase.objects.get(id=kb.id)
        return current if current.embedder == NAME or current.reembed_error else None

    current = wait_for(switched, what="the switch")
    assert (current.embedder, current.reembed_error, current.reembed_done) == (NAME, "", 2)
    found = retrieval.search(query="哪台笔记本电脑适合出差？", knowledge_bases=[current]).passages
    assert found[0].text.startswith("The Boreal laptop")
