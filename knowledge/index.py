"""Each knowledge base's search index: vectors and BM25 postings, derived from the database.

The segment backend of `knowledge.search_index.SearchIndex` (the default SEARCH_INDEX_BACKEND).

On disk, under INDEX_DIR/kb-<id>/, an index is a list of immutable segment files (chunk ids, their
vectors and the postings of their text) plus a tombstone file of ids deleted since, named by a
manifest. `CURRENT` holds the version of the manifest in use. Adding a document writes one small
segment instead of rewriting the whole index; when segments or tombstones pile up they are
compacted into one segment.

Vector search is exact (a flat inner-product index) until a knowledge base holds
INDEX_APPROXIMATE_FROM chunks. From then on compaction also trains an inverted-file index (FAISS
IVF) over the compacted segment and saves it next to it, and readers search that approximately;
segments added later join it without retraining until they make up half the index, which triggers
a compaction that trains afresh.

Writers hold an exclusive file lock for the knowledge base, write new files, then switch `CURRENT`
with an atomic rename, so a reader never sees a half-written index. Readers keep the index in
memory per knowledge base and, when the version changes, add only the new segments and apply only
the new tombstones (or reload everything after a compaction).
"""

import fcntl
import json
import math
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from dataclasses import replace as replaced
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings

from knowledge import lexical

FORMAT = 2  # 2: segments hold postings next to vectors
MAX_SEGMENTS = 32
MAX_TOMBSTONE_FRACTION = 0.2
_KEEP_VERSIONS = 2  # files of the previous version stay for readers that read CURRENT just before a switch
_TRAINING_POINTS_PER_LIST = 64


class IndexOutdated(Exception):
    """The saved index predates the current format; `manage.py rebuild_index` rewrites it."""


@dataclass(frozen=True)
class Manifest:
    version: int
    segments: tuple[str, ...]
    counts: tuple[int, ...]
    tombstones: str | None
    approximate: str | None = None  # IVF index over segments[0]


@dataclass(frozen=True)
class Segment:
    ids: np.ndarray
    vectors: np.ndarray
    postings: lexical.Postings


@dataclass(frozen=True)
class LoadedIndex:
    version: int
    vectors: faiss.Index | None  # None while the index is empty
    lexical: tuple[lexical.Segment, ...]
    segments: tuple[str, ...]
    approximate: str | None
    tombstones: np.ndarray

    @property
    def size(self) -> int:
        return 0 if self.vectors is None else self.vectors.ntotal


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
    if raw.get("format", 1) < FORMAT:
        raise IndexOutdated(
            f"The search index of knowledge base {kb_id} was written by an older version; "
            "run `python manage.py rebuild_index` to rewrite it."
        )
    return Manifest(
        version, tuple(raw["segments"]), tuple(raw["counts"]), raw["tombstones"], raw.get("approximate")
    )


def _read_segment(kb_id: int, name: str) -> Segment:
    with np.load(_folder(kb_id) / name) as data:
        return Segment(data["ids"], data["vectors"], lexical.Postings.from_arrays(data))


def _read_tombstones(kb_id: int, manifest: Manifest) -> np.ndarray:
    if manifest.tombstones is None:
        return np.zeros(0, dtype=np.int64)
    return np.load(_folder(kb_id) / manifest.tombstones)


def _write_segment(kb_id: int, version: int, segment: Segment) -> tuple[str, int]:
    name = f"seg-{version}.npz"
    tmp = _folder(kb_id) / f".{name}.tmp"
    with tmp.open("wb") as handle:
        np.savez(
            handle,
            allow_pickle=False,  # every array is numeric (see Postings.to_arrays)
            ids=segment.ids.astype(np.int64),
            vectors=segment.vectors.astype(np.float32),
            **segment.postings.to_arrays(),
        )
    os.replace(tmp, _folder(kb_id) / name)
    return name, len(segment.ids)


def _list_count(size: int) -> int:
    """Inverted lists for an IVF index of this many vectors: about the square root, as FAISS advises."""
    return max(1, min(int(math.sqrt(size)), size // _TRAINING_POINTS_PER_LIST))


def probes(lists: int) -> int:
    """Lists searched per query: enough for a recall@10 of 0.98 against exact search (benchmarks/)."""
    return max(1, min(lists, settings.INDEX_APPROXIMATE_PROBES or max(64, lists // 16)))


def _write_approximate(kb_id: int, version: int, segment: Segment) -> str:
    """Train an IVF index on the segment's vectors, add them, save it; returns the file name."""
    count, dim = segment.vectors.shape
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, _list_count(count), faiss.METRIC_INNER_PRODUCT)
    sample_size = min(count, ivf.nlist * _TRAINING_POINTS_PER_LIST)
    sample = np.random.default_rng(version).choice(count, sample_size, replace=False)
    ivf.train(np.ascontiguousarray(segment.vectors[np.sort(sample)], dtype=np.float32))
    ivf.add_with_ids(np.ascontiguousarray(segment.vectors, dtype=np.float32), segment.ids.astype(np.int64))
    name = f"ivf-{version}.faiss"
    tmp = _folder(kb_id) / f".{name}.tmp"
    faiss.write_index(ivf, str(tmp))
    os.replace(tmp, _folder(kb_id) / name)
    return name


def _commit(
    kb_id: int,
    version: int,
    segments: list[tuple[str, int]],
    tombstones: np.ndarray,
    approximate: str | None,
) -> int:
    folder = _folder(kb_id)
    tomb_name = None
    if len(tombstones):
        tomb_name = f"tomb-{version}.npy"
        tmp = folder / f".{tomb_name}.tmp"
        with tmp.open("wb") as handle:
            np.save(handle, tombstones.astype(np.int64))
        os.replace(tmp, folder / tomb_name)
    manifest = {
        "format": FORMAT,
        "segments": [s[0] for s in segments],
        "counts": [s[1] for s in segments],
        "tombstones": tomb_name,
        "approximate": approximate,
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
        except (FileNotFoundError, IndexOutdated):
            continue
        keep.add(f"manifest-{kept}.json")
        keep.update(manifest.segments)
        keep.update(name for name in (manifest.tombstones, manifest.approximate) if name)
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


def _merged(kb_id: int, names: Sequence[str], tombstones: np.ndarray) -> Segment | None:
    """One segment holding the live rows of these segments, in order; None when nothing is live."""
    parts = [_read_segment(kb_id, name) for name in names]
    keeps = [~np.isin(part.ids, tombstones) for part in parts]
    if not any(keep.any() for keep in keeps):
        return None
    return Segment(
        ids=np.concatenate([part.ids[keep] for part, keep in zip(parts, keeps, strict=True)]),
        vectors=np.concatenate([part.vectors[keep] for part, keep in zip(parts, keeps, strict=True)]),
        postings=lexical.Postings.merge(
            [(part.postings, keep) for part, keep in zip(parts, keeps, strict=True)]
        ),
    )


def _new_segment(ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str]) -> Segment:
    if not len(ids) == len(vectors) == len(texts):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors and {len(texts)} texts do not match")
    return Segment(
        np.asarray(ids, dtype=np.int64),
        np.asarray(vectors, dtype=np.float32),
        lexical.Postings.build([lexical.tokenize(text) for text in texts]),
    )


def _commit_compacted(kb_id: int, version: int, segment: Segment | None) -> int:
    """Write one segment (and, when it is large enough, its approximate index) as the whole index."""
    if segment is None:
        return _commit(kb_id, version, [], np.zeros(0, dtype=np.int64), None)
    written = _write_segment(kb_id, version, segment)
    approximate = None
    if len(segment.ids) >= settings.INDEX_APPROXIMATE_FROM:
        approximate = _write_approximate(kb_id, version, segment)
    return _commit(kb_id, version, [written], np.zeros(0, dtype=np.int64), approximate)


def update(
    kb_id: int,
    *,
    remove_ids: Sequence[int] = (),
    add_ids: Sequence[int] = (),
    add_vectors: np.ndarray | None = None,
    add_texts: Sequence[str] = (),
) -> int:
    """Remove and add chunks in one new version of the index; returns that version.

    Chunk ids are never reused, so a tombstone can never hide a chunk added later.
    """
    with _locked(kb_id):
        manifest = _manifest(kb_id, current_version(kb_id))
        version = manifest.version + 1
        segments = list(zip(manifest.segments, manifest.counts, strict=True))
        tombstones = _read_tombstones(kb_id, manifest)
        if len(remove_ids):
            tombstones = np.concatenate([tombstones, np.asarray(remove_ids, dtype=np.int64)])
        if len(add_ids):
            if add_vectors is None:
                raise ValueError(f"{len(add_ids)} ids to add but no vectors")
            new = _new_segment(add_ids, add_vectors, add_texts)
            segments.append(_write_segment(kb_id, version, new))
        total = sum(count for _name, count in segments)
        live = total - len(tombstones)
        outgrown = live >= settings.INDEX_APPROXIMATE_FROM and (
            manifest.approximate is None or 2 * segments[0][1] < total
        )
        if (
            len(segments) > MAX_SEGMENTS
            or len(tombstones) > MAX_TOMBSTONE_FRACTION * max(total, 1)
            or outgrown
        ):
            merged = _merged(kb_id, [name for name, _count in segments], tombstones)
            return _commit_compacted(kb_id, version, merged)
        return _commit(kb_id, version, segments, tombstones, manifest.approximate)


def replace(kb_id: int, *, ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str]) -> int:
    """Write an index holding exactly these chunks (a rebuild from the database)."""
    with _locked(kb_id):
        version = current_version(kb_id) + 1
        return _commit_compacted(kb_id, version, _new_segment(ids, vectors, texts) if len(ids) else None)


def _dead(ids: np.ndarray, tombstones: np.ndarray) -> np.ndarray | None:
    dead = np.isin(ids, tombstones) if len(tombstones) else None
    return dead if dead is not None and dead.any() else None


def _add(vectors: faiss.Index | None, segment: Segment) -> faiss.Index:
    if vectors is None:
        vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(segment.vectors.shape[1]))
    vectors.add_with_ids(np.ascontiguousarray(segment.vectors), segment.ids)
    return vectors


def _load_fresh(kb_id: int, manifest: Manifest) -> LoadedIndex:
    vectors: faiss.Index | None = None
    if manifest.approximate:
        vectors = faiss.read_index(str(_folder(kb_id) / manifest.approximate))
        # The IVF view of the same index; `vectors` keeps owning it.
        ivf = faiss.extract_index_ivf(vectors)
        ivf.nprobe = probes(ivf.nlist)
        # A hash table from id to list position: removals and exact re-scoring (`dense_scores`).
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # not in faiss's stub
    empty = LoadedIndex(manifest.version, vectors, (), (), manifest.approximate, np.zeros(0, dtype=np.int64))
    return _catch_up(kb_id, empty, manifest)


def _catch_up(kb_id: int, cached: LoadedIndex, manifest: Manifest) -> LoadedIndex:
    """Apply what changed since the cached version: new segments, then new tombstones."""
    vectors = cached.vectors
    added: list[lexical.Segment] = []
    for position, name in enumerate(manifest.segments[len(cached.segments) :], start=len(cached.segments)):
        segment = _read_segment(kb_id, name)
        if not (position == 0 and manifest.approximate):  # the IVF index holds the first segment already
            vectors = _add(vectors, segment)
        added.append(lexical.Segment(segment.postings, segment.ids, None))
    # Chunk ids are never reused: old tombstones cannot hit new segments, so only new ones need applying.
    tombstones = _read_tombstones(kb_id, manifest)
    lexical_segments = cached.lexical + tuple(added)
    if len(tombstones) > len(cached.tombstones):
        if vectors is not None:
            # faiss's wrapper takes an id array for any index; its stub lists that for IndexIDMap only.
            vectors.remove_ids(tombstones[len(cached.tombstones) :])  # type: ignore[arg-type]
        lexical_segments = tuple(replaced(s, dead=_dead(s.ids, tombstones)) for s in lexical_segments)
    return LoadedIndex(
        manifest.version, vectors, lexical_segments, manifest.segments, manifest.approximate, tombstones
    )


def _load(kb_id: int) -> LoadedIndex:
    """The index brought up to date with the saved version; the caller holds the knowledge base's lock."""
    cached = _cache.get(kb_id)
    for _attempt in range(3):
        version = current_version(kb_id)
        if cached and cached.version == version:
            return cached
        try:
            manifest = _manifest(kb_id, version)
            if (
                cached
                and cached.approximate == manifest.approximate
                and manifest.segments[: len(cached.segments)] == cached.segments
            ):
                loaded = _catch_up(kb_id, cached, manifest)
            else:
                loaded = _load_fresh(kb_id, manifest)
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


def search_dense(kb_id: int, query: np.ndarray, *, k: int) -> list[tuple[int, float]]:
    """The k chunks whose vectors have the largest inner product (cosine) with the query, best first."""
    with _kb_lock(kb_id):
        vectors = _load(kb_id).vectors
        if vectors is None or vectors.ntotal == 0 or k <= 0:
            return []
        scores, ids = vectors.search(
            np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), min(k, vectors.ntotal)
        )
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def dense_scores(kb_id: int, query: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """The cosine similarity of the query with each of these chunks' vectors (exact, also when the
    index searches approximately), in the order given; 0 for ids the index does not hold."""
    wanted = np.asarray(ids, dtype=np.int64)
    scores = np.zeros(len(wanted), dtype=np.float32)
    with _kb_lock(kb_id):
        vectors = _load(kb_id).vectors
        if vectors is None or not len(wanted):
            return scores
        held, stored = _reconstructed(vectors, wanted)
    scores[held] = stored @ np.asarray(query, dtype=np.float32)
    return scores


def _reconstructed(vectors: faiss.Index, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of these ids the index holds (a mask) and their stored vectors."""
    try:
        return np.ones(len(ids), dtype=bool), vectors.reconstruct_batch(ids)
    except RuntimeError:
        # An id removed since the caller found it (or never here): FAISS refuses the whole batch.
        found = {}
        for chunk_id in map(int, ids):
            with suppress(RuntimeError):
                found[chunk_id] = vectors.reconstruct(chunk_id)
        held = np.array([int(i) in found for i in ids], dtype=bool)
        stored = [found[int(i)] for i in ids[held]]
        return held, np.array(stored, dtype=np.float32).reshape(-1, vectors.d)


def _lexical_segments(kb_id: int) -> tuple[lexical.Segment, ...]:
    with _kb_lock(kb_id):
        return _load(kb_id).lexical


def search_lexical(kb_id: int, query: lexical.Query | str, *, k: int) -> list[tuple[int, float]]:
    """The k chunks with the highest BM25 score for the query's terms, best first."""
    return lexical.search(_lexical_segments(kb_id), query, k=k)


def lexical_scores(kb_id: int, query: lexical.Query | str, ids: Sequence[int]) -> np.ndarray:
    return lexical.scores(_lexical_segments(kb_id), query, ids)


def lexical_ceiling(kb_id: int, query: lexical.Query | str) -> float:
    return lexical.ceiling(_lexical_segments(kb_id), query)


def is_approximate(kb_id: int) -> bool:
    with _kb_lock(kb_id):
        return _load(kb_id).approximate is not None


def ids(kb_id: int) -> set[int]:
    """The chunk ids the saved index holds, read from disk (not from this process's cache)."""
    manifest = _manifest(kb_id, current_version(kb_id))
    tombstones = _read_tombstones(kb_id, manifest)
    held: set[int] = set()
    for name in manifest.segments:
        with np.load(_folder(kb_id) / name) as data:
            segment_ids = data["ids"]
        held.update(int(i) for i in segment_ids[~np.isin(segment_ids, tombstones)])
    return held
