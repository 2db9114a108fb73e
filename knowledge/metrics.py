"""Ingestion's and the search index's figures for /metrics, read when /metrics is read. The queue is
the documents' rows, shared by every node, so any web process can tell it; the index lag is this
node's: the logged changes its own index copy has not applied yet."""

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from knowledge import index_sync
from knowledge.models import Document

# Documents finished within this window are counted as the ingestion rate.
RECENT = timedelta(minutes=5)
WAITING = (Document.Status.QUEUED, Document.Status.PROCESSING)
FINISHED = (Document.Status.READY, Document.Status.FAILED)


class IngestionCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily(
            "kbchat_ingestion_documents",
            "Documents waiting for ingestion or being ingested, by status (queued, processing).",
            labels=["status"],
        )
        waiting = _counts(Document.objects.filter(status__in=WAITING))
        for status in WAITING:
            queue.add_metric([status], waiting.get(status, 0))
        yield queue
        finished = GaugeMetricFamily(
            "kbchat_ingestion_finished_recently",
            f"Documents that finished ingestion in the last {int(RECENT.total_seconds())} seconds, "
            "by status (ready, failed).",
            labels=["status"],
        )
        since = timezone.now() - RECENT
        done = _counts(Document.objects.filter(status__in=FINISHED, updated_at__gte=since))
        for status in FINISHED:
            finished.add_metric([status], done.get(status, 0))
        yield finished


class IndexCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = index_sync.status()
        yield GaugeMetricFamily(
            "kbchat_index_lag_changes",
            "Changes to the search indexes logged in the database that this node has not applied yet.",
            value=state.lag,
        )


def _counts(documents) -> dict[str, int]:
    rows = documents.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}
