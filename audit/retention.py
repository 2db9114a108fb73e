"""The retention purge: the one code that removes audit events, and it records that it did.

Events are append-only (audit.models): `EventQuerySet.delete()` refuses everyone. The purge calls
Django's own `QuerySet.delete` on the expired rows instead, which is a single DELETE bounded by the
cut-off (no row is loaded), in the same transaction as the PURGE event that says how many went.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone

from audit.log import record
from audit.models import Event


@dataclass(frozen=True)
class Purge:
    removed: int
    cutoff: datetime | None  # None: kept forever (a retention of 0 days)


def purge_expired(*, days: int, now: datetime | None = None) -> Purge:
    """Remove the events older than `days` days (0: remove nothing), and record a PURGE event when any
    were removed."""
    if days == 0:
        return Purge(removed=0, cutoff=None)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        expired = Event.objects.filter(at__lt=cutoff)
        _rows, by_model = models.QuerySet.delete(expired)  # past the append-only guard, on purpose
        removed = by_model.get(Event._meta.label, 0)  # not counting the rows that went with them
        if removed:
            record(
                Event.Kind.PURGE,
                summary=f"{removed} events before {cutoff:%Y-%m-%d %H:%M} UTC",
                removed=removed,
                cutoff=cutoff.isoformat(),
                retention_days=days,
            )
    return Purge(removed=removed, cutoff=cutoff)
