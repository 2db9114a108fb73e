"""Each node's copy of the search indexes, kept current from the database's log of index changes."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone

from knowledge import embedding, index, index_log, index_sync, search_index, services, tasks
from knowledge.models import Chunk, IndexChange, KnowledgeBase
from tests.conftest import PRODUCTS, ingest_texts
from tests.processes import ROOT, app_env, use_data_dir

Op = IndexChange.Operation


def on_node(settings, folder: Path) -> None:
    """Switch this process to the node keeping its indexes in `folder`."""
    use_data_dir(settings, folder)
    index._cache.clear()


def held(kb: KnowledgeBase) -> set[int]:
    """What this node's index holds, as saved, without catching up first."""
    return search_index.backend().ids(kb.id)


def chunk_ids(kb: KnowledgeBase) -> set[int]:
    return set(Chunk.objects.filter(knowledge_base=kb).values_list("id", flat=True))


@pytest.fixture
def products(kb, tmp_path):
    ingest_texts(kb, tmp_path, PRODUCTS)
    return kb


def test_it_logs_the_chunks_of_a_document_with_them(kb, tmp_path):
    ingest_texts(kb, tmp_path, {"atlas.txt": PRODUCTS["atlas.txt"]})
    logged = IndexChange.objects.filter(operation=Op.ADD, knowledge_base_id=kb.id)
    assert set(logged.values_list("chunk_id", flat=True)) == chunk_ids(kb) != set()


def test_a_deletion_rolled_back_logs_nothing(products):
    document = products.documents.first()
    before = chunk_ids(products)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.document_delete(document=document)
        raise RuntimeError("rolled back")
    assert chunk_ids(products) == before
    assert not IndexChange.objects.filter(operation=Op.REMOVE).exists()


def test_it_applies_adds_and_removes_in_order(kb, tmp_path):
    index_sync.catch_up()
    ingest_texts(kb, tmp_path, {"atlas.txt": PRODUCTS["atlas.txt"]})
    services.document_delete(document=kb.documents.get())
    ingest_texts(kb, tmp_path, {"boreal.txt": PRODUCTS["boreal.txt"]})
    assert held(kb) == set()
    applied = index_sync.catch_up()
    assert applied == IndexChange.objects.count()
    assert held(kb) == chunk_ids(kb) == set(kb.documents.get().chunks.values_list("id", flat=True))


def test_a_second_node_catches_up_from_nothing(products, settings, tmp_path):
    index_sync.catch_up()
    on_node(settings, tmp_path / "node-b")
    assert held(products) == set()
    index_sync.catch_up()
    assert held(products) == chunk_ids(products)
    services.document_delete(document=products.documents.first())
    index_sync.ensure_current()
    assert held(products) == chunk_ids(products)


def test_it_is_one_query_when_current(products, django_assert_num_queries):
    index_sync.catch_up()
    with django_assert_num_queries(1):
        index_sync.ensure_current()
    assert index_sync.status() == index_sync.SyncStatus(
        loaded=True, applied=index_log.latest(), latest=index_log.latest(), lag=0
    )


def test_it_reports_its_lag(products):
    index_sync.catch_up()
    services.document_delete(document=products.documents.first())
    removed = IndexChange.objects.filter(operation=Op.REMOVE).count()
    status = index_sync.status()
    assert status.loaded and status.lag == removed > 0 and status.latest > status.applied


def test_a_deleted_knowledge_base_is_dropped(products):
    index_sync.catch_up()
    services.knowledge_base_delete(knowledge_base=products)
    index_sync.ensure_current()
    assert held(products) == set()


def test_a_logged_rebuild_rebuilds_that_knowledge_base_on_every_node(products, settings, tmp_path):
    node_a = Path(settings.INDEX_DIR).parent
    on_node(settings, tmp_path / "node-b")
    index_sync.catch_up()
    search_index.backend().update(products.id, remove_ids=sorted(chunk_ids(products)))  # B's copy is damaged
    on_node(settings, node_a)
    assert services.knowledge_base_rebuild_index(knowledge_base=products) == len(chunk_ids(products))
    on_node(settings, tmp_path / "node-b")
    index_sync.ensure_current()
    assert held(products) == chunk_ids(products)


def test_a_node_behind_the_pruned_log_rebuilds(products, settings, tmp_path):
    index_sync.catch_up()
    ingest_texts(products, tmp_path, {"cirrus.txt": "The Cirrus tablet has a 12 inch screen."})
    IndexChange.objects.update(created_at=timezone.now() - timedelta(days=8))
    assert index_log.prune(days=7) > 0
    assert not IndexChange.objects.filter(operation=Op.ADD).exists()
    index_sync.catch_up()
    assert held(products) == chunk_ids(products)


def test_pruning_an_idle_log_leaves_it_alone(products, settings):
    settings.INDEX_CHANGES_KEEP_DAYS = 7
    IndexChange.objects.update(created_at=timezone.now() - timedelta(days=8))
    assert tasks.prune_index_changes() > 0  # the sweeper's hourly task
    IndexChange.objects.update(created_at=timezone.now() - timedelta(days=8))
    assert index_log.prune(days=7) == 0
    assert list(IndexChange.objects.values_list("operation", flat=True)) == [Op.PRUNE]


def test_an_index_of_an_older_format_is_rebuilt(products, tmp_path):
    index_sync.catch_up()
    manifest = index._folder(products.id) / f"manifest-{index.current_version(products.id)}.json"
    manifest.write_text(manifest.read_text().replace('"format": 2, ', ""))  # as the first format wrote it
    ingest_texts(products, tmp_path, {"cirrus.txt": "The Cirrus tablet has a 12 inch screen."})
    index._cache.clear()
    index_sync.ensure_current()
    assert held(products) == chunk_ids(products)
    vector = np.frombuffer(Chunk.objects.first().vector, dtype=np.float32)
    assert index.search_dense(products.id, vector, k=1)


def test_a_cursor_of_an_older_format_rebuilds_every_index(products):
    index_sync.catch_up()
    nothing = np.zeros((0, embedding.dimension()), dtype=np.float32)
    search_index.backend().replace(products.id, ids=[], vectors=nothing, texts=[])
    cursor = index_sync._read_cursor()
    assert cursor is not None
    cursor.format = 1
    index_sync._write_cursor(cursor)
    index_sync.ensure_current()
    assert held(products) == chunk_ids(products)


CATCH_UP = "import django; django.setup(); from knowledge import index_sync; print(index_sync.catch_up())"


@pytest.mark.django_db(transaction=True)
def test_two_processes_catching_up_at_once_apply_each_change_once(products, settings, tmp_path):
    index_sync.catch_up()
    ingest_texts(products, tmp_path, {"cirrus.txt": "The Cirrus tablet has a 12 inch screen."})
    version = index.current_version(products.id)
    new = IndexChange.objects.filter(id__gt=index_sync.status().applied).count()
    environment = app_env(Path(settings.INDEX_DIR).parent)
    runs = [
        subprocess.Popen([sys.executable, "-c", CATCH_UP], cwd=ROOT, env=environment, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = sorted(int(run.communicate(timeout=120)[0].decode().split()[-1]) for run in runs)
    assert outputs == [0, new]
    assert index.current_version(products.id) == version + 1
    assert held(products) == chunk_ids(products)
