"""Each knowledge base's vector index: derived from the database, saved atomically with a version.

On disk, under INDEX_DIR/kb-<id>/, an index is a list of immutable segment files (chunk ids and
their vectors) plus a tombstone file of ids deleted since, named by a manifest. `CURRENT` holds the
version of the manifest in use. Adding a document writes one small segment instead of rewriting
the whole index; when segments or tombstones pile up they are compacted into one segment.

Writers hold an exclusive file lock for the knowledge base, write new files, then switch `CURRENT`
with an atomic rename, so a reader never sees a half-written index. Readers keep a FAISS index in
memory per knowledge base and, when the version changes, add only the new segments and remove the
new tombstones (or reload everything after a compaction).
"""

import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings

MAX_SEGMENTS = 32
MAX_TOMBSTONE_FRACTION = 0.2
_KEEP_VERSIONS = 2  # files of the previous version stay for readers that read CURRENT just before a switch


@dataclass(frozen=True)
class Manifest:
    version: int
    segments: tuple[str, ...]
    counts: tuple[int, ...]
    tombstones: str | None


@dataclass(frozen=True)
class LoadedIndex:
    version: int
    index: faiss.IndexIDMap2
    segments: tuple[str, ...]
    tombstones_applied: int


_cache: dict[int, LoadedIndex] = {}
# FAISS indexes may not be changed while searched: one lock per knowledge base guards both.
_kb_locks: dict[int, threading.Lock] = {}
_kb_locks_guard = threading.Lock()


def _kb_lock(kb_id: int) -> threading.Lock:
    with _kb_locks_guard:
        return _kb_locks.setdefault(kb_id, threading.Lock())


def _folder(kb_id: int) -> Path:
    folder = Path(settings.INDEX_DIR) / f"kb-{kb_id}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def current_version(kb_id: int) -> int:
    try:
        return int((_folder(kb_id) / "CURRENT").read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def _manifest(kb_id: int, version: int) -> Manifest:
    if version == 0:
        return Manifest(0, (), (), None)
    raw = json.loads((_folder(kb_id) / f"manifest-{version}.json").read_text())
    return Manifest(version, tuple(raw["segments"]), tuple(raw["counts"]), raw["tombstones"])


def _read_segment(kb_id: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(_folder(kb_id) / name) as data:
        return data["ids"], data["vectors"]


def _read_tombstones(kb_id: int, manifest: Manifest) -> np.ndarray:
    if manifest.tombstones is None:
        return np.zeros(0, dtype=np.int64)
    return np.load(_folder(kb_id) / manifest.tombstones)


def _write_segment(kb_id: int, version: int, ids: np.ndarray, vectors: np.ndarray) -> tuple[str, int]:
    name = f"seg-{version}.npz"
    tmp = _folder(kb_id) / f".{name}.tmp"
    with tmp.open("wb") as handle:
        np.savez(handle, ids=ids.astype(np.int64), vectors=vectors.astype(np.float32))
    os.replace(tmp, _folder(kb_id) / name)
    return name, len(ids)


def _commit(kb_id: int, version: int, segments: list[tuple[str, int]], tombstones: np.ndarray) -> int:
    folder = _folder(kb_id)
    tomb_name = None
    if len(tombstones):
        tomb_name = f"tomb-{version}.npy"
        tmp = folder / f".{tomb_name}.tmp"
        with tmp.open("wb") as handle:
            np.save(handle, tombstones.astype(np.int64))
        os.replace(tmp, folder / tomb_name)
    manifest = {
        "segments": [s[0] for s in segments],
        "counts": [s[1] for s in segments],
        "tombstones": tomb_name,
    }
    _atomic_write(folder / f"manifest-{version}.json", json.dumps(manifest).encode())
    _atomic_write(folder / "CURRENT", str(version).encode())
    _remove_unreferenced(kb_id, version)
    return version


def _remove_unreferenced(kb_id: int, version: int) -> None:
    folder = _folder(kb_id)
    keep: set[str] = set()
    for kept in range(max(1, version - _KEEP_VERSIONS + 1), version + 1):
        try:
            manifest = _manifest(kb_id, kept)
        except FileNotFoundError:
            continue
        keep.add(f"manifest-{kept}.json")
        keep.update(manifest.segments)
        if manifest.tombstones:
            keep.add(manifest.tombstones)
    for path in folder.glob("*-*.*"):
        if path.name not in keep:
            path.unlink(missing_ok=True)


@contextmanager
def _locked(kb_id: int) -> Iterator[None]:
    with open(_folder(kb_id) / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live(kb_id: int, manifest: Manifest, tombstones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ids and vectors of a manifest's segments, without the deleted ones."""
    parts = [_read_segment(kb_id, name) for name in manifest.segments]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.concatenate([p[0] for p in parts])
    keep = ~np.isin(ids, tombstones)
    return ids[keep], np.concatenate([p[1] for p in parts])[keep]


def update(kb_id: int, *, remove_ids: list[int], add_ids: list[int], add_vectors: np.ndarray) -> int:
    """Remove and add vectors in one new version of the index; returns that version.

    Chunk ids are never reused, so a tombstone can never hide a vector added later.
    """
    with _locked(kb_id):
        manifest = _manifest(kb_id, current_version(kb_id))
        version = manifest.version + 1
        segments = list(zip(manifest.segments, manifest.counts, strict=True))
        tombstones = _read_tombstones(kb_id, manifest)
        if remove_ids:
            tombstones = np.concatenate([tombstones, np.asarray(remove_ids, dtype=np.int64)])
        if add_ids:
            segments.append(_write_segment(kb_id, version, np.asarray(add_ids), add_vectors))
        total = sum(count for _name, count in segments)
        if len(segments) > MAX_SEGMENTS or len(tombstones) > MAX_TOMBSTONE_FRACTION * max(total, 1):
            pending = Manifest(version, tuple(name for name, _count in segments), (), None)
            ids, vectors = _live(kb_id, pending, tombstones)
            segments = [_write_segment(kb_id, version, ids, vectors)] if len(ids) else []
            tombstones = np.zeros(0, dtype=np.int64)
        return _commit(kb_id, version, segments, tombstones)


def replace(kb_id: int, *, ids: list[int], vectors: np.ndarray) -> int:
    """Write an index holding exactly these vectors (a rebuild from the database)."""
    with _locked(kb_id):
        version = current_version(kb_id) + 1
        segments = [_write_segment(kb_id, version, np.asarray(ids), vectors)] if ids else []
        return _commit(kb_id, version, segments, np.zeros(0, dtype=np.int64))


def _load_fresh(kb_id: int, manifest: Manifest, dim: int) -> LoadedIndex:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    for name in manifest.segments:
        ids, vectors = _read_segment(kb_id, name)
        index.add_with_ids(vectors, ids)
    tombstones = _read_tombstones(kb_id, manifest)
    if len(tombstones):
        index.remove_ids(tombstones)
    return LoadedIndex(manifest.version, index, manifest.segments, len(tombstones))


def _catch_up(kb_id: int, cached: LoadedIndex, manifest: Manifest) -> LoadedIndex:
    """Apply what changed since the cached version: new segments, then new tombstones."""
    for name in manifest.segments[len(cached.segments) :]:
        ids, vectors = _read_segment(kb_id, name)
        cached.index.add_with_ids(vectors, ids)
    tombstones = _read_tombstones(kb_id, manifest)
    if len(tombstones) > cached.tombstones_applied:
        cached.index.remove_ids(tombstones[cached.tombstones_applied :])
    return LoadedIndex(manifest.version, cached.index, manifest.segments, len(tombstones))


def _load(kb_id: int, dim: int) -> LoadedIndex:
    """The index brought up to date with the saved version; the caller holds the knowledge base's lock."""
    cached = _cache.get(kb_id)
    for _attempt in range(3):
        version = current_version(kb_id)
        if cached and cached.version == version:
            return cached
        try:
            manifest = _manifest(kb_id, version)
            appended = cached and manifest.segments[: len(cached.segments)] == cached.segments
            loaded = _catch_up(kb_id, cached, manifest) if appended else _load_fresh(kb_id, manifest, dim)
        except FileNotFoundError:
            # A writer compacted and cleaned up while we read: start again from the newer version.
            cached = None
            continue
        _cache[kb_id] = loaded
        return loaded
    raise RuntimeError(f"The index of knowledge base {kb_id} keeps changing; try again.")


def drop(kb_id: int) -> None:
    """Remove a deleted knowledge base's index from disk and from this process."""
    folder = Path(settings.INDEX_DIR) / f"kb-{kb_id}"
    if folder.exists():
        shutil.rmtree(folder)
    _cache.pop(kb_id, None)


def search(kb_id: int, query: np.ndarray, *, dim: int, k: int) -> list[tuple[int, float]]:
    with _kb_lock(kb_id):
        loaded = _load(kb_id, dim)
        if loaded.index.ntotal == 0:
            return []
        scores, ids = loaded.index.search(query.reshape(1, -1), min(k, loaded.index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def vector_ids(kb_id: int) -> set[int]:
    """The chunk ids the saved index holds, read from disk (not from this process's cache)."""
    manifest = _manifest(kb_id, current_version(kb_id))
    return {int(i) for i in _live(kb_id, manifest, _read_tombstones(kb_id, manifest))[0]}
