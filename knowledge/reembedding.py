"""Changing a knowledge base's embedder without a moment of worse answers.

The change is recorded as the knowledge base's `next_embedder`; a background task embeds every
chunk with it into `Chunk.next_vector` while searches and ingestion go on with the current
embedder and its vectors. When every chunk has its new vector, one transaction swaps the vectors,
sets `embedder` and logs a rebuild of the knowledge base's index, which every node applies
(knowledge.index_sync): searches use the old index until then, and the new one from then on.

Chunks added meanwhile (documents ingested with the current embedder) are found by the task's next
pass, or at the latest inside the switch, which holds the knowledge base's row: ingestion takes the
same lock to store chunks and queues a document again when the embedder changed under it
(knowledge.ingestion). A failure leaves the current embedder in place with the reason shown in the
admin. Each change has its own attempt number, so a task superseded by a newer change (or one back
to the current embedder, which cancels it) stops at its next write.
"""

import logging

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F

from knowledge import embedders, index_log
from knowledge.models import Chunk, KnowledgeBase

logger = logging.getLogger(__name__)


def knowledge_base_change_embedder(*, knowledge_base: KnowledgeBase, embedder: str) -> bool:
    """Move the knowledge base to the embedder of this name; returns whether that runs in the
    background (it is at once when the knowledge base has no chunks, and choosing the current
    embedder again cancels a change in progress). EmbedderError when none has that name."""
    from knowledge.tasks import reembed_knowledge_base

    embedders.get(embedder)
    with transaction.atomic():
        kb = KnowledgeBase.objects.select_for_update().get(id=knowledge_base.id)
        chunks = Chunk.objects.filter(knowledge_base_id=kb.id)
        chunks.exclude(next_vector=None).update(next_vector=None)
        attempt = kb.reembed_attempt + 1
        fresh = {"reembed_attempt": attempt, "reembed_done": 0, "reembed_error": ""}
        total = chunks.count()
        if embedder == kb.embedder or not total:
            KnowledgeBase.objects.filter(id=kb.id).update(
                **fresh, embedder=embedder, next_embedder="", reembed_total=0
            )
            return False
        KnowledgeBase.objects.filter(id=kb.id).update(**fresh, next_embedder=embedder, reembed_total=total)

        def send() -> None:
            try:
                reembed_knowledge_base.delay(kb.id, attempt)
            except Exception:
                logger.warning("Could not reach the task queue to re-embed %s", kb.id, exc_info=True)
                reason = "The task queue could not be reached; choose the embedder again to retry."
                _fail(kb.id, attempt, reason)

        transaction.on_commit(send)
    return True


def knowledge_base_reembed(*, kb_id: int, attempt: int) -> None:
    """Embed every chunk with the next embedder, then switch (the task's work)."""
    kb = KnowledgeBase.objects.filter(id=kb_id, reembed_attempt=attempt).exclude(next_embedder="").first()
    if kb is None:
        return  # superseded, cancelled or deleted
    try:
        embedder = embedders.get(kb.next_embedder)
        while rows := _missing(kb_id, limit=settings.INGEST_EMBED_BATCH):
            if not _store(kb_id, attempt, rows, _vectors(embedder, rows)):
                return
        _switch(kb_id, attempt, embedder)
    except embedders.EmbedderError as exc:
        _fail(kb_id, attempt, str(exc))
    except Exception as exc:
        logger.exception("Re-embedding knowledge base %s failed", kb_id)
        _fail(kb_id, attempt, f"Re-embedding failed unexpectedly ({type(exc).__name__}: {exc}).")


def _missing(kb_id: int, *, limit: int | None = None) -> list[tuple[int, str]]:
    """(id, text) of chunks without their next vector yet."""
    rows = Chunk.objects.filter(knowledge_base_id=kb_id, next_vector=None).order_by("id")
    return list(rows.values_list("id", "text")[:limit])


def _vectors(embedder: embedders.Embedder, rows: list[tuple[int, str]]) -> np.ndarray:
    """The rows' vectors, each distinct text embedded once."""
    texts = list(dict.fromkeys(text for _id, text in rows))
    by_text = dict(zip(texts, embedder.embed(texts), strict=True))
    return np.stack([by_text[text] for _id, text in rows])


def _mine(kb_id: int, attempt: int) -> bool:
    """Lock the knowledge base's row and tell whether this attempt is still the change in progress."""
    locked = KnowledgeBase.objects.select_for_update().filter(id=kb_id, reembed_attempt=attempt)
    return locked.exclude(next_embedder="").exists()


def _store(kb_id: int, attempt: int, rows: list[tuple[int, str]], vectors: np.ndarray) -> bool:
    """Write the rows' next vectors and the progress; False when this attempt was superseded."""
    with transaction.atomic():
        if not _mine(kb_id, attempt):
            return False
        updated = [
            Chunk(id=chunk_id, next_vector=vector.tobytes())
            for (chunk_id, _text), vector in zip(rows, vectors, strict=True)
        ]
        Chunk.objects.bulk_update(updated, ["next_vector"], batch_size=500)
        chunks = Chunk.objects.filter(knowledge_base_id=kb_id)
        KnowledgeBase.objects.filter(id=kb_id).update(
            reembed_done=chunks.exclude(next_vector=None).count(), reembed_total=chunks.count()
        )
    return True


def _switch(kb_id: int, attempt: int, embedder: embedders.Embedder) -> None:
    """Swap every chunk's vector for its next one and make the next embedder current, at once."""
    with transaction.atomic():
        if not _mine(kb_id, attempt):
            return
        # Chunks stored since the last pass (ingestion waits for this lock to store more).
        if rows := _missing(kb_id):
            _store(kb_id, attempt, rows, _vectors(embedder, rows))
        chunks = Chunk.objects.filter(knowledge_base_id=kb_id)
        chunks.update(vector=F("next_vector"), next_vector=None)
        total = chunks.count()
        KnowledgeBase.objects.filter(id=kb_id).update(
            embedder=embedder.name, next_embedder="", reembed_done=total, reembed_total=total
        )
        index_log.record_rebuild(kb_id=kb_id)  # last, as index_log asks
    logger.info("Knowledge base %s now uses the embedder %r", kb_id, embedder.name)


def _fail(kb_id: int, attempt: int, reason: str) -> None:
    """Give up this change: the current embedder stays, and the admin shows why."""
    logger.warning("Re-embedding knowledge base %s failed: %s", kb_id, reason)
    with transaction.atomic():
        if not _mine(kb_id, attempt):
            return
        Chunk.objects.filter(knowledge_base_id=kb_id).exclude(next_vector=None).update(next_vector=None)
        KnowledgeBase.objects.filter(id=kb_id).update(next_embedder="", reembed_error=reason)
