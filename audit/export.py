"""The audit log as CSV, streamed: rows are read in batches on pool threads and written as they come,
so an export of years of events holds one batch in memory and no database connection in between.

UTF-8 with a byte-order mark, so that Excel opens Chinese names and titles correctly. A cell that
begins like a formula is prefixed with an apostrophe (names and titles come from users, and Excel
would evaluate them)."""

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import Event
from chatsite.db_threads import in_pool

BOM = "\ufeff"
BATCH = 2000
COLUMNS = ("at", "kind", "username", "ip", "target", "summary", "detail")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(cell) for cell in cells])
    return buffer.getvalue()


def _batch(*, events: QuerySet[Event], before: int | None) -> list[tuple]:
    page = events if before is None else events.filter(id__lt=before)
    return list(page.order_by("-id").values_list("id", *COLUMNS)[:BATCH])


def _row(row: tuple, kinds: dict[str, str]) -> list[str]:
    _id, at, kind, username, ip, target, summary, detail = row
    moment: datetime = timezone.localtime(at)
    when = moment.isoformat(timespec="seconds")
    return [
        when,
        kinds.get(kind, kind),
        username,
        ip,
        target,
        summary,
        json.dumps(detail, ensure_ascii=False),
    ]


async def csv_lines(
    *, events: QuerySet[Event], header: list[str], kinds: dict[str, str]
) -> AsyncIterator[bytes]:
    """The events, newest first, as CSV; `header` and `kinds` (each kind's label) in the reader's
    language, worked out before streaming starts (the stream runs outside the request)."""
    yield (BOM + _line(header)).encode()
    before = None
    while rows := await in_pool(_batch, events=events, before=before):
        yield "".join(_line(_row(row, kinds)) for row in rows).encode()
        before = rows[-1][0]
