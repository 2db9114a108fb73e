"""Each knowledge base's search index: vectors and BM25 postings, derived from the database.

The segment backend of `knowledge.search_index.SearchIndex` (the default SEARCH_INDEX_BACKEND).

On disk, under INDEX_DIR/kb-<id>/, an index is a list of immutable segments plus a tombstone file
of ids deleted since, named by a manifest. `CURRENT` holds the version of the manifest in use.
Adding a document writes one small segment instead of rewriting the whole index; when segments or
tombstones pile up they are compacted into one segment.

A segment is a folder of `.npy` files: its chunk ids in ascending order, their vectors in the same
order, and the arrays of their BM25 postings (`lexical.Postings.to_arrays`). Readers map these
files read-only instead of loading them, so the web processes of one machine share a single copy
of each index in the page cache, and a process opens an index in milliseconds.

Vector search is exact (a matrix-vector product over each mapped segment) until a knowledge base
holds INDEX_APPROXIMATE_FROM chunks. From then on compaction also trains an inverted-file index
(FAISS IVF) over the compacted segment and saves it next to it; readers map it too
(`IO_FLAG_MMAP`) and search it approximately. A large segment added later gets an IVF index of its
own over the same centroids (assigning vectors to lists needs no training), mapped alike and
searched with the same probes; small ones are searched exactly. When the segments added since
make up half the index, a compaction trains afresh.

Deleted chunks are filtered at search time: mapped files are never changed, so tombstones become
a small per-process mask (a byte per row of a segment that has deletions) and an id filter on the
IVF search. Exact scores of given ids are found by binary search over a segment's sorted ids.

Writers hold an exclusive file lock for the knowledge base, write new files (each segment in a
temporary folder, flushed to disk, then renamed), then switch `CURRENT` with an atomic rename, so
a reader never sees a half-written index. Readers keep the mapped segments of each knowledge base
and, when the version changes, map only the new segments and apply the new tombstones (or map
everything again after a compaction). A reader's mapping stays valid after a compaction deletes
its files, until it moves on.
"""

import fcntl
import json
import math
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings

from knowledge import lexical

FORMAT = 3  # 2: segments hold postings next to vectors; 3: segments are folders of mappable .npy files
MAX_SEGMENTS = 32
MAX_TOMBSTONE_FRACTION = 0.2
_KEEP_VERSIONS = 2  # files of the previous version stay for readers that read CURRENT just before a switch
_TRAINING_POINTS_PER_LIST = 64
# Segments added to an approximate index from this size get an IVF index; smaller ones (a group of
# documents is a few hundred chunks) are cheaper to search exactly than to map a quantizer for.
_APPROXIMATE_SEGMENT_FROM = 4096


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
    """A segment's rows in ascending chunk id order; mapped from disk when read."""

    ids: np.ndarray
    vectors: np.ndarray
    postings: lexical.Postings


@dataclass(frozen=True)
class Approximate:
    """What searches of the mapped IVF indexes pass: probes, and the filter of deleted ids."""

    nlist: int
    parameters: faiss.SearchParametersIVF
    selectors: tuple[faiss.IDSelector, ...]  # referenced here: FAISS objects only point at them


@dataclass(frozen=True)
class LoadedIndex:
    version: int
    segments: tuple[str, ...]
    mapped: tuple[Segment, ...]
    ivfs: tuple[faiss.Index | None, ...]  # a mapped IVF index per segment, or None: searched exactly
    approximate: Approximate | None
    tombstones: np.ndarray
    lexical: tuple[lexical.Segment, ...]  # one per segment, with its deleted rows

    @property
    def size(self) -> int:
        """Live chunks."""
        dead = sum(0 if s.dead is None else int(s.dead.sum()) for s in self.lexical)
        return sum(len(s.ids) for s in self.mapped) - dead


_cache: dict[int, LoadedIndex] = {}
# One lock per knowledge base, so that one thread maps a new version while others wait for it.
_kb_locks: dict[int, threading.Lock] = {}
_kb_locks_guard = threading.Lock()


def _kb_lock(kb_id: int) -> threading.Lock:
    with _kb_locks_guard:
        return _kb_locks.setdefault(kb_id, threading.Lock())


def _folder(kb_id: int) -> Path:
    folder = Path(settings.INDEX_DIR) / f"kb-{kb_id}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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


def _mapped(path: Path) -> np.ndarray:
    """The array of an .npy file, mapped read-only (numpy cannot map an empty one: that is read)."""
    try:
        return np.asarray(np.load(path, mmap_mode="r"))
    except ValueError:
        return np.load(path)


def _read_segment(kb_id: int, name: str) -> Segment:
    folder = _folder(kb_id) / name
    if not folder.is_dir():
        raise FileNotFoundError(folder)  # removed by a compaction since the manifest was read
    arrays = {path.stem: _mapped(path) for path in folder.glob("*.npy")}
    return Segment(arrays["ids"], arrays["vectors"], lexical.Postings.from_arrays(arrays))


def _read_tombstones(kb_id: int, manifest: Manifest) -> np.ndarray:
    if manifest.tombstones is None:
        return np.zeros(0, dtype=np.int64)
    return np.load(_folder(kb_id) / manifest.tombstones)


def _write_segment(
    kb_id: int, version: int, segment: Segment, *, centroids_of: Path | None = None
) -> tuple[str, int]:
    """Write the segment as a folder of .npy files: into a temporary folder, flushed, then renamed.

    With `centroids_of` (a trained IVF index), also an IVF index of the segment over its centroids.
    """
    name = f"seg-{version}"
    tmp = _folder(kb_id) / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by a writer that died
    tmp.mkdir()
    arrays: dict[str, np.ndarray] = {
        "ids": segment.ids.astype(np.int64),
        "vectors": segment.vectors.astype(np.float32),
        **segment.postings.to_arrays(),
    }
    for key, array in arrays.items():
        with (tmp / f"{key}.npy").open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
    if centroids_of is not None:
        _save_ivf(_trained_like(centroids_of), segment, tmp / "ivf.faiss")
    _fsync(tmp)
    os.replace(tmp, _folder(kb_id) / name)
    _fsync(_folder(kb_id))
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
    name = f"ivf-{version}.faiss"
    _save_ivf(ivf, segment, _folder(kb_id) / name)
    return name


def _trained_like(path: Path) -> faiss.IndexIVFFlat:
    """An empty IVF index with the centroids of the saved one: trained, as its quantizer holds them."""
    saved = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    trained = faiss.extract_index_ivf(saved)
    quantizer = faiss.IndexFlatIP(trained.d)
    quantizer.add(trained.quantizer.reconstruct_n(0, trained.nlist))
    return faiss.IndexIVFFlat(quantizer, trained.d, trained.nlist, faiss.METRIC_INNER_PRODUCT)


def _save_ivf(ivf: faiss.IndexIVFFlat, segment: Segment, path: Path) -> None:
    ivf.add_with_ids(np.ascontiguousarray(segment.vectors, dtype=np.float32), segment.ids.astype(np.int64))
    tmp = path.with_name(f".{path.name}.tmp")
    faiss.write_index(ivf, str(tmp))
    _fsync(tmp)
    os.replace(tmp, path)


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
            np.save(handle, np.unique(tombstones.astype(np.int64)))  # sorted, for binary search
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
    """Files and segment folders no recent manifest names, including those of older formats."""
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
    for path in folder.glob("*-*"):
        if path.name not in keep and not path.name.startswith("."):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


@contextmanager
def _locked(kb_id: int) -> Iterator[None]:
    with open(_folder(kb_id) / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _in_id_order(ids: np.ndarray, vectors: np.ndarray, postings: lexical.Postings) -> Segment:
    if len(ids) and not (ids[1:] > ids[:-1]).all():
        order = np.argsort(ids, kind="stable")
        return Segment(ids[order], vectors[order], postings.reordered(order))
    return Segment(ids, vectors, postings)


def _merged(parts: Sequence[Segment], tombstones: np.ndarray) -> Segment | None:
    """One segment holding the live rows of these segments; None when nothing is live."""
    keeps = [~np.isin(part.ids, tombstones) for part in parts]
    if not any(keep.any() for keep in keeps):
        return None
    return _in_id_order(
        np.concatenate([part.ids[keep] for part, keep in zip(parts, keeps, strict=True)]),
        np.concatenate([part.vectors[keep] for part, keep in zip(parts, keeps, strict=True)]),
        lexical.Postings.merge([(part.postings, keep) for part, keep in zip(parts, keeps, strict=True)]),
    )


def _new_segment(ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str]) -> Segment:
    if not len(ids) == len(vectors) == len(texts):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors and {len(texts)} texts do not match")
    order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
    return Segment(
        np.asarray(ids, dtype=np.int64)[order],
        np.asarray(vectors, dtype=np.float32)[order],
        lexical.Postings.build([lexical.tokenize(texts[row]) for row in order]),
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
            tombstones = np.union1d(tombstones, np.asarray(remove_ids, dtype=np.int64))
        new = None
        if len(add_ids):
            if add_vectors is None:
                raise ValueError(f"{len(add_ids)} ids to add but no vectors")
            new = _new_segment(add_ids, add_vectors, add_texts)
        total = sum(manifest.counts) + (0 if new is None else len(new.ids))
        live = total - len(tombstones)
        outgrown = live >= settings.INDEX_APPROXIMATE_FROM and (
            manifest.approximate is None or 2 * manifest.counts[0] < total
        )
        if (
            len(manifest.segments) + (new is not None) > MAX_SEGMENTS
            or len(tombstones) > MAX_TOMBSTONE_FRACTION * max(total, 1)
            or outgrown
        ):
            parts = [_read_segment(kb_id, name) for name in manifest.segments]
            return _commit_compacted(kb_id, version, _merged([*parts, *([new] if new else [])], tombstones))
        if new is not None:
            centroids_of = None
            if manifest.approximate and len(new.ids) >= _APPROXIMATE_SEGMENT_FROM:
                centroids_of = _folder(kb_id) / manifest.approximate
            segments.append(_write_segment(kb_id, version, new, centroids_of=centroids_of))
        return _commit(kb_id, version, segments, tombstones, manifest.approximate)


def replace(kb_id: int, *, ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str]) -> int:
    """Write an index holding exactly these chunks (a rebuild from the database)."""
    with _locked(kb_id):
        version = current_version(kb_id) + 1
        return _commit_compacted(kb_id, version, _new_segment(ids, vectors, texts) if len(ids) else None)


def _dead(ids: np.ndarray, tombstones: np.ndarray) -> np.ndarray | None:
    """A mask of the rows (ids ascending) that the tombstones (ascending) delete; None when none."""
    if not len(tombstones) or not len(ids):
        return None
    rows = np.searchsorted(ids, tombstones).clip(max=len(ids) - 1)
    rows = rows[ids[rows] == tombstones]
    if not len(rows):
        return None
    dead = np.zeros(len(ids), dtype=bool)
    dead[rows] = True
    return dead


def _map_ivf(path: Path) -> faiss.Index:
    """Map an IVF index: its inverted lists stay in the file's pages, which processes share (FAISS
    reads them through `OnDiskInvertedLists`), and it starts no prefetch threads."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    ivf = faiss.extract_index_ivf(index)
    lists = ivf.invlists and faiss.downcast_InvertedLists(ivf.invlists)
    if isinstance(lists, faiss.OnDiskInvertedLists):
        lists.prefetch_nthread = 0
    return index


def _ivf_of(kb_id: int, manifest: Manifest, position: int, name: str) -> faiss.Index | None:
    if position == 0 and manifest.approximate:
        return _map_ivf(_folder(kb_id) / manifest.approximate)
    path = _folder(kb_id) / name / "ivf.faiss"
    return _map_ivf(path) if path.exists() else None


def _filtered(nlist: int, tombstones: np.ndarray) -> Approximate:
    """Search parameters that skip the deleted ids inside the IVF search, so none need over-fetching."""
    parameters = faiss.SearchParametersIVF()
    parameters.nprobe = probes(nlist)
    if not len(tombstones):
        return Approximate(nlist, parameters, ())
    deleted = faiss.IDSelectorBatch(tombstones)
    parameters.sel = live = faiss.IDSelectorNot(deleted)
    return Approximate(nlist, parameters, (deleted, live))


def _catch_up(kb_id: int, cached: LoadedIndex, manifest: Manifest) -> LoadedIndex:
    """Map what changed since the cached version: new segments, then new tombstones."""
    start = len(cached.mapped)
    names = manifest.segments[start:]
    mapped = cached.mapped + tuple(_read_segment(kb_id, name) for name in names)
    ivfs = cached.ivfs + tuple(
        _ivf_of(kb_id, manifest, position, name) for position, name in enumerate(names, start=start)
    )
    tombstones = _read_tombstones(kb_id, manifest)
    changed = len(tombstones) != len(cached.tombstones)
    approximate = cached.approximate
    first = ivfs[0] if ivfs else None
    if manifest.approximate and first is not None and (approximate is None or changed):
        approximate = _filtered(faiss.extract_index_ivf(first).nlist, tombstones)
    lexical_segments = cached.lexical
    if changed or names:
        lexical_segments = tuple(
            lexical.Segment(s.postings, s.ids, _dead(s.ids, tombstones), ids_sorted=True) for s in mapped
        )
    return LoadedIndex(
        manifest.version, manifest.segments, mapped, ivfs, approximate, tombstones, lexical_segments
    )


def _load_fresh(kb_id: int, manifest: Manifest) -> LoadedIndex:
    empty = LoadedIndex(manifest.version, (), (), (), None, np.zeros(0, dtype=np.int64), ())
    return _catch_up(kb_id, empty, manifest)


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
                and (cached.approximate is None) == (manifest.approximate is None)
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


def _loaded(kb_id: int) -> LoadedIndex:
    with _kb_lock(kb_id):
        return _load(kb_id)


def drop(kb_id: int) -> None:
    """Remove a deleted knowledge base's index from disk and from this process."""
    folder = Path(settings.INDEX_DIR) / f"kb-{kb_id}"
    if folder.exists():
        shutil.rmtree(folder)
    _cache.pop(kb_id, None)


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if len(scores) > k:
        best = np.argpartition(-scores, k - 1)[:k]
        ids, scores = ids[best], scores[best]
    return ids, scores


def _exact_top(
    segment: Segment, dead: np.ndarray | None, query: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best live rows of a mapped segment: one matrix-vector product reads the mapped vectors
    in place (BLAS on the file's pages), and only the scores are allocated."""
    scores = segment.vectors @ query
    if dead is not None:
        scores[dead] = -np.inf
    ids, scores = _top(segment.ids, scores, k)
    live = np.isfinite(scores)
    return ids[live], scores[live]


def search_dense(kb_id: int, query: np.ndarray, *, k: int) -> list[tuple[int, float]]:
    """The k chunks whose vectors have the largest inner product (cosine) with the query, best first."""
    loaded = _loaded(kb_id)
    if k <= 0 or not loaded.mapped:
        return []
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    found_ids, found_scores = [], []
    for segment, ivf, lexical_segment in zip(loaded.mapped, loaded.ivfs, loaded.lexical, strict=True):
        if ivf is not None and loaded.approximate is not None:
            scores, ids = ivf.search(vector.reshape(1, -1), k, params=loaded.approximate.parameters)
            kept = ids[0] != -1
            found_ids.append(ids[0][kept])
            found_scores.append(scores[0][kept])
        else:
            ids, scores = _exact_top(segment, lexical_segment.dead, vector, k)
            found_ids.append(ids)
            found_scores.append(scores)
    all_ids, all_scores = np.concatenate(found_ids), np.concatenate(found_scores)
    best = np.lexsort((all_ids, -all_scores))[:k]
    return [(int(all_ids[i]), float(all_scores[i])) for i in best]


def dense_scores(kb_id: int, query: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """The cosine similarity of the query with each of these chunks' vectors (exact, also when the
    index searches approximately), in the order given; 0 for ids the index does not hold."""
    wanted = np.asarray(ids, dtype=np.int64)
    scores = np.zeros(len(wanted), dtype=np.float32)
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    loaded = _loaded(kb_id)
    for segment, lexical_segment in zip(loaded.mapped, loaded.lexical, strict=True):
        if not len(segment.ids):
            continue
        rows = np.searchsorted(segment.ids, wanted).clip(max=len(segment.ids) - 1)
        found = segment.ids[rows] == wanted
        if lexical_segment.dead is not None:
            found &= ~lexical_segment.dead[rows]
        scores[found] = segment.vectors[rows[found]] @ vector
    return scores


def search_lexical(kb_id: int, query: lexical.Query | str, *, k: int) -> list[tuple[int, float]]:
    """The k chunks with the highest BM25 score for the query's terms, best first."""
    return lexical.search(_loaded(kb_id).lexical, query, k=k)


def lexical_scores(kb_id: int, query: lexical.Query | str, ids: Sequence[int]) -> np.ndarray:
    return lexical.scores(_loaded(kb_id).lexical, query, ids)


def lexical_ceiling(kb_id: int, query: lexical.Query | str) -> float:
    return lexical.ceiling(_loaded(kb_id).lexical, query)


def is_approximate(kb_id: int) -> bool:
    return _loaded(kb_id).approximate is not None


def ids(kb_id: int) -> set[int]:
    """The chunk ids the saved index holds, read from disk (not from this process's cache)."""
    manifest = _manifest(kb_id, current_version(kb_id))
    tombstones = _read_tombstones(kb_id, manifest)
    held: set[int] = set()
    for name in manifest.segments:
        segment_ids = _mapped(_folder(kb_id) / name / "ids.npy")
        held.update(int(i) for i in segment_ids[~np.isin(segment_ids, tombstones)])
    return held
