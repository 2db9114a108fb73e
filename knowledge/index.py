"""Each knowledge base's FAISS index: derived from the database, saved atomically with a version.

On disk, under INDEX_DIR/kb-<id>/: `dense-<version>.faiss` files and a `CURRENT` file naming the
version in use. Writers hold an exclusive file lock for the knowledge base, read the current index
from disk, change it, write the next version and then switch `CURRENT` with an atomic rename, so a
reader never sees a half-written index. Readers keep loaded indexes in memory and reload when the
version in `CURRENT` changes.
"""

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings

_KEEP_VERSIONS = 2  # the previous file stays for readers that read CURRENT just before the switch


@dataclass(frozen=True)
class LoadedIndex:
    version: int
    index: faiss.IndexIDMap2


_cache: dict[int, LoadedIndex] = {}
_cache_lock = threading.Lock()


def _folder(kb_id: int) -> Path:
    folder = Path(settings.INDEX_DIR) / f"kb-{kb_id}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def current_version(kb_id: int) -> int:
    try:
        return int((_folder(kb_id) / "CURRENT").read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def _read(kb_id: int, version: int, dim: int) -> faiss.IndexIDMap2:
    if version == 0:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    return faiss.read_index(str(_folder(kb_id) / f"dense-{version}.faiss"))


def _write(kb_id: int, index: faiss.IndexIDMap2) -> int:
    folder = _folder(kb_id)
    version = current_version(kb_id) + 1
    tmp = folder / f".dense-{version}.tmp"
    faiss.write_index(index, str(tmp))
    os.replace(tmp, folder / f"dense-{version}.faiss")
    pointer = folder / ".CURRENT.tmp"
    pointer.write_text(str(version))
    os.replace(pointer, folder / "CURRENT")
    for old in folder.glob("dense-*.faiss"):
        if int(old.stem.split("-")[1]) <= version - _KEEP_VERSIONS:
            old.unlink(missing_ok=True)
    return version


@contextmanager
def _locked(kb_id: int) -> Iterator[None]:
    with open(_folder(kb_id) / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update(
    kb_id: int, *, dim: int, remove_ids: list[int], add_ids: list[int], add_vectors: np.ndarray
) -> int:
    """Remove and add vectors in one new version of the index; returns that version."""
    with _locked(kb_id):
        index = _read(kb_id, current_version(kb_id), dim)
        if remove_ids:
            index.remove_ids(np.asarray(remove_ids, dtype=np.int64))
        if add_ids:
            index.add_with_ids(add_vectors, np.asarray(add_ids, dtype=np.int64))
        return _write(kb_id, index)


def replace(kb_id: int, *, dim: int, ids: list[int], vectors: np.ndarray) -> int:
    """Write an index holding exactly these vectors (a rebuild from the database)."""
    with _locked(kb_id):
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if ids:
            index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        return _write(kb_id, index)


def load(kb_id: int, *, dim: int) -> LoadedIndex:
    """The index as this process should search it, reloaded when another process changed it."""
    version = current_version(kb_id)
    cached = _cache.get(kb_id)
    if cached and cached.version == version:
        return cached
    with _cache_lock:
        cached = _cache.get(kb_id)
        if cached and cached.version == version:
            return cached
        try:
            loaded = LoadedIndex(version, _read(kb_id, version, dim))
        except RuntimeError:
            # CURRENT moved on while we read: the next version is complete on disk.
            version = current_version(kb_id)
            loaded = LoadedIndex(version, _read(kb_id, version, dim))
        _cache[kb_id] = loaded
        return loaded


def search(kb_id: int, query: np.ndarray, *, dim: int, k: int) -> list[tuple[int, float]]:
    loaded = load(kb_id, dim=dim)
    if loaded.index.ntotal == 0:
        return []
    scores, ids = loaded.index.search(query.reshape(1, -1), min(k, loaded.index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def vector_ids(kb_id: int, *, dim: int) -> set[int]:
    index = _read(kb_id, current_version(kb_id), dim)
    return {int(i) for i in faiss.vector_to_array(index.id_map)}
