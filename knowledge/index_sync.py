"""This node's copy of the search indexes, built from the database and kept current from its log.

Nodes share the database, not a file system: each keeps its own indexes in its DATA_DIR and applies
the log of index changes (knowledge.index_log) after its cursor, in id order, reading vectors and
texts from the chunk rows. The cursor lives in a file next to the indexes, with the backend and
index format it was built with. Several processes on one machine share the folder: a file lock
makes one of them apply each change, and the others read the indexes it wrote.

A node rebuilds every knowledge base from one consistent read of the database when it has no cursor,
when its indexes are of an older format or another backend, when its cursor is behind a pruned part
of the log or ahead of the log itself (another database), or when it stopped in the middle of
applying a batch. A logged rebuild of one knowledge base rebuilds only that one; its changes already
contained in the rebuild are skipped by a per-knowledge-base floor.

`ensure_current()` runs before each search (one MAX(id) query when nothing is new), `start()` and
`stop()` run a web process's background thread that applies changes every INDEX_SYNC_SECONDS, and
`status()` tells how far behind this node is.
"""

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from chatsite import database_probe
from knowledge import index, index_log, search_index
from knowledge.models import Chunk, IndexChange, KnowledgeBase

logger = logging.getLogger(__name__)

CURSOR_FILE = "applied-changes.json"
BATCH = 1000
Op = IndexChange.Operation


@dataclass
class _Cursor:
    applied: int  # the id of the last change applied
    backend: str
    format: int | None
    floors: dict[int, int] = field(default_factory=dict)  # knowledge base -> last change its rebuild holds
    applying: bool = False  # a batch is being written: if we find this, the write was cut short


@dataclass(frozen=True)
class SyncStatus:
    loaded: bool  # the indexes are built, in the current format, and have a cursor
    applied: int  # the id of the last change applied (0 when not loaded)
    latest: int  # the id of the newest change in the database
    lag: int  # changes in the database not applied yet


class _Rebuild(Exception):
    """The indexes cannot be caught up change by change; they must be rebuilt."""


def _folder() -> Path:
    folder = Path(settings.INDEX_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _index_format() -> int | None:
    return getattr(search_index.backend(), "FORMAT", None)


def _read_cursor() -> _Cursor | None:
    try:
        raw = json.loads((_folder() / CURSOR_FILE).read_text())
        floors = {int(kb_id): int(through) for kb_id, through in raw["floors"].items()}
        return _Cursor(raw["applied"], raw["backend"], raw["format"], floors, raw["applying"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("The index cursor %s is unreadable; rebuilding", _folder() / CURSOR_FILE)
        return None


def _write_cursor(cursor: _Cursor) -> None:
    raw = {
        "applied": cursor.applied,
        "backend": cursor.backend,
        "format": cursor.format,
        "floors": {str(kb_id): through for kb_id, through in cursor.floors.items()},
        "applying": cursor.applying,
    }
    path = _folder() / CURSOR_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(raw))
    os.replace(tmp, path)


def _usable(cursor: _Cursor | None) -> bool:
    return (
        cursor is not None
        and not cursor.applying
        and cursor.backend == settings.SEARCH_INDEX_BACKEND
        and cursor.format == _index_format()
    )


@contextmanager
def _node_lock() -> Iterator[None]:
    """One applier per node folder: other processes (and threads, each opening the file) wait."""
    with open(_folder() / ".sync.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of the log and the chunks. Changes are inserted and committed in id
    order, so a snapshot holding a change holds every change before it and their chunk rows."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield  # SQLite: a read transaction sees one state of the file until it ends


def _replace(kb_id: int) -> None:
    rows = list(
        Chunk.objects.filter(knowledge_base_id=kb_id).order_by("id").values_list("id", "vector", "text")
    )
    # Each knowledge base's vectors are as long as its own embedder makes them; an empty one has none.
    vectors = (
        np.stack([np.frombuffer(bytes(row[1]), dtype=np.float32) for row in rows])
        if rows
        else np.zeros((0, 0), dtype=np.float32)
    )
    search_index.backend().replace(
        kb_id, ids=[row[0] for row in rows], vectors=vectors, texts=[row[2] for row in rows]
    )


def _rebuild_all() -> int:
    """Rebuild every knowledge base from the database; returns the cursor it leaves."""
    logger.info("Building this node's search indexes from the database in %s", settings.INDEX_DIR)
    with _snapshot():
        through = index_log.latest()
        for kb_id in KnowledgeBase.objects.order_by("id").values_list("id", flat=True):
            _replace(kb_id)
    _write_cursor(_Cursor(through, settings.SEARCH_INDEX_BACKEND, _index_format()))
    return through


def _rebuild_one(kb_id: int) -> int:
    """Rebuild one knowledge base; returns the last change the rebuild holds."""
    with _snapshot():
        through = index_log.latest()
        _replace(kb_id)
    return through


def _flush(pending: dict[int, tuple[list[int], list[int]]]) -> None:
    """Write each knowledge base's removals and additions; a chunk deleted since is not added."""
    wanted = [chunk_id for _removed, added in pending.values() for chunk_id in added]
    rows = {
        chunk_id: (np.frombuffer(bytes(vector), dtype=np.float32), text)
        for chunk_id, vector, text in Chunk.objects.filter(id__in=wanted).values_list("id", "vector", "text")
    }
    for kb_id, (removed, added) in pending.items():
        present = [chunk_id for chunk_id in added if chunk_id in rows]
        if not removed and not present:
            continue
        search_index.backend().update(
            kb_id,
            remove_ids=removed,
            add_ids=present,
            add_vectors=np.stack([rows[i][0] for i in present]) if present else None,
            add_texts=[rows[i][1] for i in present],
        )


def _apply(changes: list[IndexChange], floors: dict[int, int]) -> None:
    """Apply one batch of changes in order; `floors` is updated with the rebuilds done."""
    pending: dict[int, tuple[list[int], list[int]]] = {}
    for change in changes:
        kb_id = change.knowledge_base_id
        if kb_id is None or change.id <= floors.get(kb_id, 0):
            continue
        if change.operation in (Op.ADD, Op.REMOVE):
            removed, added = pending.setdefault(kb_id, ([], []))
            (added if change.operation == Op.ADD else removed).append(change.chunk_id or 0)
        elif change.operation == Op.DROP:
            pending.pop(kb_id, None)
            search_index.backend().drop(kb_id)
        elif change.operation == Op.REBUILD:
            pending.pop(kb_id, None)  # the rebuild reads them from the database
            floors[kb_id] = _rebuild_one(kb_id)
    _flush(pending)


def _apply_log(cursor: _Cursor) -> int:
    """Apply the changes after the cursor in batches; returns how many were applied."""
    start = cursor.applied
    if start > index_log.latest():
        raise _Rebuild(f"the cursor ({start}) is ahead of the log: another database")
    count = 0
    while changes := list(IndexChange.objects.filter(id__gt=cursor.applied).order_by("id")[:BATCH]):
        if any(c.operation == Op.PRUNE and (c.pruned_through or 0) > start for c in changes):
            raise _Rebuild(f"changes after {start} were pruned from the log")
        cursor.applying = True
        _write_cursor(cursor)
        _apply(changes, cursor.floors)
        cursor.applied = changes[-1].id
        cursor.floors = {kb_id: last for kb_id, last in cursor.floors.items() if last > cursor.applied}
        cursor.applying = False
        _write_cursor(cursor)
        count += len(changes)
    return count


def catch_up() -> int:
    """Bring this node's indexes up to the newest change (building them when they cannot be caught
    up); returns the number of changes applied, or of the changes a rebuild holds."""
    with _node_lock():
        cursor = _read_cursor()
        if cursor is None or not _usable(cursor):
            return _rebuild_all()
        try:
            return _apply_log(cursor)
        except (_Rebuild, index.IndexOutdated) as reason:
            logger.warning("Rebuilding this node's search indexes: %s", reason)
            return _rebuild_all()


def ensure_current() -> None:
    """Catch up unless the cursor is already at the newest change (one cheap query then)."""
    cursor = _read_cursor()
    if not (_usable(cursor) and cursor is not None and cursor.applied == index_log.latest()):
        catch_up()


def status() -> SyncStatus:
    cursor = _read_cursor()
    applied = cursor.applied if cursor is not None and _usable(cursor) else 0
    return SyncStatus(
        loaded=_usable(cursor),
        applied=applied,
        latest=index_log.latest(),
        lag=IndexChange.objects.filter(id__gt=applied).count(),
    )


_stopping = threading.Event()
_thread: threading.Thread | None = None


def _keep_current() -> None:
    while not _stopping.wait(settings.INDEX_SYNC_SECONDS):
        try:
            if database_probe.answers()[0]:  # else the pool's wait would hold up a shutdown's `stop`
                ensure_current()
        except Exception:
            logger.exception("Catching up the search indexes failed; trying again shortly")
        finally:
            connections.close_all()


def start() -> None:
    """Build or catch up this node's indexes now (before the server listens), then keep them current
    from a background thread. Call once per web process at start-up. A database that cannot be
    reached does not stop the start: the process is alive but not ready (/readyz), and the thread
    builds the indexes once the database answers."""
    global _thread
    try:
        reachable, detail = database_probe.answers()
        if reachable:
            catch_up()
        else:
            logger.warning("This node's search indexes cannot be built yet: database %s", detail)
    except DatabaseError:
        logger.exception("This node's search indexes cannot be built yet; trying again shortly")
    finally:
        connections.close_all()
    if _thread is None:
        _stopping.clear()
        _thread = threading.Thread(target=_keep_current, name="index-sync", daemon=True)
        _thread.start()


def stop() -> None:
    """Stop the background thread (at shutdown). A batch cut short is found and rebuilt at the next
    start, so the wait is bounded."""
    global _thread
    _stopping.set()
    if _thread is not None:
        _thread.join(timeout=10)
        _thread = None
