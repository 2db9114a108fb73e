"""The log of index changes: what each node's copy of the search indexes must apply, in commit order.

Workers and services write chunks to the database and, in the same transaction, one `IndexChange`
per chunk added or removed (and one per knowledge base deleted or to be rebuilt); they never write
an index. Every node applies the log to its own indexes (knowledge.index_sync), reading changes by
increasing id after the last one it applied. So ids must follow commit order: a change that commits
later with a smaller id would be skipped. On PostgreSQL a writer therefore inserts its changes last,
holding an EXCLUSIVE lock on the table from the insert to the commit (SELECTs still run; the next
writer waits only for that commit). SQLite lets one transaction write at a time, which is the same.

Call the `record_*` functions last in the writing transaction: the lock lasts until its outermost
commit. Old changes are pruned daily (`prune`), leaving a marker so that a node further behind than
that rebuilds instead of missing what was pruned.
"""

from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from knowledge.models import IndexChange

Op = IndexChange.Operation


def _insert(changes: list[IndexChange]) -> None:
    if not changes:
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {IndexChange._meta.db_table} IN EXCLUSIVE MODE")
        now = timezone.now()  # once locked: creation times follow ids, which pruning relies on
        for change in changes:
            change.created_at = now
        IndexChange.objects.bulk_create(changes, batch_size=1000)


def record_chunks(
    *, removed: Mapping[int, Iterable[int]] = {}, added: Mapping[int, Iterable[int]] = {}
) -> None:
    """Log chunks removed and added, each given by knowledge base id; removals come first."""
    changes = [
        IndexChange(knowledge_base_id=kb_id, chunk_id=chunk_id, operation=op)
        for op, by_kb in ((Op.REMOVE, removed), (Op.ADD, added))
        for kb_id, chunk_ids in by_kb.items()
        for chunk_id in chunk_ids
    ]
    _insert(changes)


def record_drop(*, kb_id: int) -> None:
    """Log that a knowledge base was deleted: nodes forget its index."""
    _insert([IndexChange(knowledge_base_id=kb_id, operation=Op.DROP)])


def record_rebuild(*, kb_id: int) -> None:
    """Log that a knowledge base's index is to be rebuilt from the database on every node."""
    _insert([IndexChange(knowledge_base_id=kb_id, operation=Op.REBUILD)])


def prune(*, days: int) -> int:
    """Delete changes older than `days` days, and log up to which id; returns how many went.

    Nothing is done while the only old changes are earlier markers, so an idle log stays as it is.
    """
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        old = IndexChange.objects.filter(created_at__lt=cutoff)
        if not old.exclude(operation=Op.PRUNE).exists():
            return 0
        through = old.aggregate(last=Max("id"))["last"]
        deleted, _by_model = IndexChange.objects.filter(id__lte=through).delete()
        _insert([IndexChange(operation=Op.PRUNE, pruned_through=through)])
    return deleted


def latest() -> int:
    """The id of the newest change, 0 when the log is empty."""
    return IndexChange.objects.aggregate(last=Max("id"))["last"] or 0
