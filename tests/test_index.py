"""The segment index on disk and the mapped copies that follow it."""

import threading

import faiss
import numpy as np
import pytest

from knowledge import index

DIM = 8
KB = 7


def vectors(ids: list[int]) -> np.ndarray:
    """The same vector for the same id, whatever else is in the list."""
    values = np.stack([np.random.default_rng(i).normal(size=DIM) for i in ids]).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def texts(ids: list[int]) -> list[str]:
    return [f"chunk{i} 第{i}段" for i in ids]


def add(ids: list[int]) -> int:
    return index.update(KB, add_ids=ids, add_vectors=vectors(ids), add_texts=texts(ids))


def nearest(vector: np.ndarray) -> int:
    return index.search_dense(KB, vector, k=1)[0][0]


def found_by_words(i: int) -> set[int]:
    return {hit for hit, _ in index.search_lexical(KB, f"chunk{i}", k=5)}


def test_it_finds_what_was_added_and_forgets_what_was_removed():
    add([1, 2, 3])
    assert nearest(vectors([2])[0]) == 2
    index.update(KB, remove_ids=[2])
    assert 2 not in {hit for hit, _ in index.search_dense(KB, vectors([2])[0], k=3)}
    assert index.ids(KB) == {1, 3}
    assert found_by_words(3) == {3}
    assert found_by_words(2) == set()


def test_a_loaded_copy_catches_up_with_changes_made_elsewhere():
    add(list(range(1, 21)))
    loaded = index._load(KB)
    add([21])
    index.update(KB, remove_ids=[1])
    caught_up = index._load(KB)
    assert caught_up.mapped[0] is loaded.mapped[0]  # the same mapping, brought up to date, not reopened
    assert caught_up.version == index.current_version(KB)
    assert nearest(vectors([21])[0]) == 21
    assert 1 not in {hit for hit, _ in index.search_dense(KB, vectors([1])[0], k=20)}
    assert found_by_words(21) == {21}
    assert found_by_words(1) == set()


def test_it_compacts_segments_and_tombstones(monkeypatch):
    monkeypatch.setattr(index, "MAX_SEGMENTS", 3)
    add([1, 2])
    loaded = index._load(KB)
    for start in range(2, 12, 2):
        add([start + 1, start + 2])
    index.update(KB, remove_ids=[1, 2, 3])
    manifest = index._manifest(KB, index.current_version(KB))
    assert len(manifest.segments) <= 3
    assert index.ids(KB) == set(range(4, 13))
    assert index._load(KB).mapped[0] is not loaded.mapped[0]  # a compaction means a fresh load
    assert index._load(KB).size == 9
    assert [found_by_words(i) for i in (3, 4, 12)] == [set(), {4}, {12}]


def test_it_keeps_only_recent_files_on_disk():
    for start in range(0, 20, 2):
        add([start + 1, start + 2])
    folder = index._folder(KB)
    assert len(list(folder.glob("manifest-*.json"))) <= 2


def test_replace_writes_exactly_the_given_vectors():
    add([1, 2, 3])
    index.replace(KB, ids=[8, 9], vectors=vectors([8, 9]), texts=texts([8, 9]))
    assert index.ids(KB) == {8, 9}
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
    assert index.ids(KB) == {w * 100 + n for w in range(writers) for n in range(10)}


def test_large_indexes_search_approximately_and_stay_up_to_date(settings):
    """Above the threshold an IVF index is trained; later additions and deletions still apply to it."""
    settings.INDEX_APPROXIMATE_FROM = 600
    add(list(range(1, 501)))
    assert not index.is_approximate(KB)
    add(list(range(501, 701)))  # crossing the threshold compacts and trains
    manifest = index._manifest(KB, index.current_version(KB))
    assert manifest.approximate and len(manifest.segments) == 1
    assert index.is_approximate(KB)
    add([701])
    index.update(KB, remove_ids=[5])
    loaded = index._load(KB)
    assert loaded.approximate and loaded.size == 700
    assert nearest(vectors([701])[0]) == 701  # a segment added after training
    assert nearest(vectors([300])[0]) == 300
    assert 5 not in {hit for hit, _ in index.search_dense(KB, vectors([5])[0], k=10)}
    assert found_by_words(5) == set() and found_by_words(701) == {701}
    index._cache.clear()  # another process loading from disk sees the same
    assert index._load(KB).size == 700
    assert nearest(vectors([701])[0]) == 701
    assert index.ids(KB) == set(range(1, 702)) - {5}


def test_segments_are_mapped_read_only_in_chunk_id_order():
    add([5, 3, 9])
    add([2, 7])
    index.update(KB, remove_ids=[3])
    for segment in index._load(KB).mapped:
        assert isinstance(segment.vectors.base, np.memmap) and not segment.vectors.flags.writeable
        assert list(segment.ids) == sorted(segment.ids)
    np.testing.assert_allclose(
        index.dense_scores(KB, vectors([9])[0], [9, 3, 2, 4]),
        [1.0, 0.0, float(vectors([2])[0] @ vectors([9])[0]), 0.0],
        rtol=1e-5,
    )
    assert found_by_words(5) == {5} and found_by_words(3) == set()


def test_ivf_indexes_are_mapped_and_filter_deleted_chunks(settings, monkeypatch):
    settings.INDEX_APPROXIMATE_FROM = 300
    monkeypatch.setattr(index, "_APPROXIMATE_SEGMENT_FROM", 20)
    add(list(range(1, 301)))
    add(list(range(301, 321)))  # large enough for an IVF index over the same centroids
    add([321])  # searched exactly
    index.update(KB, remove_ids=[*range(1, 40), 305])
    loaded = index._load(KB)
    assert loaded.approximate is not None and [ivf is not None for ivf in loaded.ivfs] == [True, True, False]
    for ivf in loaded.ivfs[:2]:
        lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(ivf).invlists)
        assert isinstance(lists, faiss.OnDiskInvertedLists) and lists.prefetch_nthread == 0
    deleted = {*range(1, 40), 305}
    found = {hit for i in deleted for hit, _ in index.search_dense(KB, vectors([i])[0], k=5)}
    assert found and not found & deleted
    assert [nearest(vectors([i])[0]) for i in (310, 321, 50)] == [310, 321, 50]
    assert len(index.search_dense(KB, vectors([50])[0], k=500)) == 281


def test_an_index_from_an_older_version_asks_for_a_rebuild():
    add([1])
    folder = index._folder(KB)
    manifest = folder / f"manifest-{index.current_version(KB)}.json"
    manifest.write_text(manifest.read_text().replace('"format": 3, ', ""))
    index._cache.clear()
    with pytest.raises(index.IndexOutdated, match="rebuild_index"):
        index.search_dense(KB, vectors([1])[0], k=1)
    with pytest.raises(index.IndexOutdated):
        add([2])
    index.replace(KB, ids=[1, 2], vectors=vectors([1, 2]), texts=texts([1, 2]))  # the rebuild
    assert index.ids(KB) == {1, 2} and nearest(vectors([2])[0]) == 2
    assert sorted(path.name for path in folder.glob("seg-*")) == [f"seg-{index.current_version(KB)}"]
