"""The segment index on disk and the in-memory copies that follow it."""

import threading

import numpy as np
import pytest

from knowledge import index

DIM = 8
KB = 7


def vectors(ids: list[int]) -> np.ndarray:
    """The same vector for the same id, whatever else is in the list."""
    values = np.stack([np.random.default_rng(i).normal(size=DIM) for i in ids]).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def add(ids: list[int]) -> int:
    return index.update(KB, remove_ids=[], add_ids=ids, add_vectors=vectors(ids))


def nearest(vector: np.ndarray) -> int:
    return index.search(KB, vector, dim=DIM, k=1)[0][0]


def test_it_finds_what_was_added_and_forgets_what_was_removed():
    add([1, 2, 3])
    assert nearest(vectors([2])[0]) == 2
    index.update(KB, remove_ids=[2], add_ids=[], add_vectors=np.zeros(0))
    assert 2 not in {hit for hit, _ in index.search(KB, vectors([2])[0], dim=DIM, k=3)}
    assert index.vector_ids(KB) == {1, 3}


def test_a_loaded_copy_catches_up_with_changes_made_elsewhere():
    add(list(range(1, 21)))
    loaded = index._load(KB, DIM)
    add([21])
    index.update(KB, remove_ids=[1], add_ids=[], add_vectors=np.zeros(0))
    caught_up = index._load(KB, DIM)
    assert caught_up.index is loaded.index  # the same copy, brought up to date, not reloaded
    assert caught_up.version == index.current_version(KB)
    assert nearest(vectors([21])[0]) == 21
    assert 1 not in {hit for hit, _ in index.search(KB, vectors([1])[0], dim=DIM, k=20)}


def test_it_compacts_segments_and_tombstones(monkeypatch):
    monkeypatch.setattr(index, "MAX_SEGMENTS", 3)
    add([1, 2])
    loaded = index._load(KB, DIM)
    for start in range(2, 12, 2):
        add([start + 1, start + 2])
    index.update(KB, remove_ids=[1, 2, 3], add_ids=[], add_vectors=np.zeros(0))
    manifest = index._manifest(KB, index.current_version(KB))
    assert len(manifest.segments) <= 3
    assert index.vector_ids(KB) == set(range(4, 13))
    assert index._load(KB, DIM).index is not loaded.index  # a compaction means a fresh load
    assert index._load(KB, DIM).index.ntotal == 9


def test_it_keeps_only_recent_files_on_disk():
    for start in range(0, 20, 2):
        add([start + 1, start + 2])
    folder = index._folder(KB)
    assert len(list(folder.glob("manifest-*.json"))) <= 2


def test_replace_writes_exactly_the_given_vectors():
    add([1, 2, 3])
    index.replace(KB, ids=[8, 9], vectors=vectors([8, 9]))
    assert index.vector_ids(KB) == {8, 9}
    assert nearest(vectors([9])[0]) == 9


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_lose_nothing(writers):
    def write(worker: int) -> None:
        for n in range(10):
            add([worker * 100 + n])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert index.vector_ids(KB) == {w * 100 + n for w in range(writers) for n in range(10)}
