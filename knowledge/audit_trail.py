"""What the knowledge services write to the audit log: uploads, re-indexing, deletions and changes of
who may read a knowledge base. Each service calls one of these once, whichever page, endpoint or
command it was called from; `user` is who did it (None: a management command)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit.log import record
from audit.models import Event
from knowledge.models import Document, KnowledgeBase

if TYPE_CHECKING:
    from knowledge.services import UploadReport

# An event names at most this many documents; its count says how many there were.
LISTED_DOCUMENTS = 100


def _listed(documents: list[Document]) -> list[dict]:
    return [{"id": document.id, "title": document.title} for document in documents[:LISTED_DOCUMENTS]]


def _titles(documents: list[Document]) -> str:
    return ", ".join(document.title for document in documents[:LISTED_DOCUMENTS])


def _target(documents: list[Document], knowledge_base_id: int | None) -> str:
    """The document acted on, or the knowledge base of several."""
    if len(documents) == 1:
        return f"document:{documents[0].id}"
    return f"knowledge_base:{knowledge_base_id}"


def record_upload(*, knowledge_base: KnowledgeBase, report: "UploadReport", user) -> None:
    """One event for one upload (a .zip of a thousand files included), when it held any file."""
    created = report.created
    if not (created or report.duplicates or report.rejected):
        return
    record(
        Event.Kind.UPLOAD,
        user=user,
        target=_target(created, knowledge_base.id),
        summary=_titles(created),
        knowledge_base=knowledge_base.name,
        created=len(created),
        duplicates=len(report.duplicates),
        rejected=len(report.rejected),
        documents=_listed(created),
    )


def record_reindex(*, documents: list[Document], user) -> None:
    if documents:
        record(
            Event.Kind.REINDEX,
            user=user,
            target=_target(documents, documents[0].knowledge_base_id),
            summary=_titles(documents),
            count=len(documents),
            documents=_listed(documents),
        )


def record_rebuild(*, knowledge_base: KnowledgeBase, vectors: int, user) -> None:
    record(
        Event.Kind.REINDEX,
        user=user,
        target=f"knowledge_base:{knowledge_base.id}",
        summary=knowledge_base.name,
        vectors=vectors,
    )


def record_document_delete(*, document: Document, user) -> None:
    record(
        Event.Kind.DELETE,
        user=user,
        target=f"document:{document.id}",
        summary=document.title,
        knowledge_base=document.knowledge_base.name,
        size=document.size,
    )


def record_knowledge_base_delete(*, knowledge_base: KnowledgeBase, documents: int, user) -> None:
    record(
        Event.Kind.DELETE,
        user=user,
        target=f"knowledge_base:{knowledge_base.id}",
        summary=knowledge_base.name,
        slug=knowledge_base.slug,
        documents=documents,
    )


@dataclass(frozen=True)
class Readers:
    """Who may read a knowledge base."""

    is_public: bool
    groups: frozenset[str]

    @classmethod
    def of(cls, knowledge_base: KnowledgeBase) -> "Readers":
        """As stored; nobody for one not saved yet."""
        if knowledge_base.pk is None:
            return cls(is_public=False, groups=frozenset())
        stored = KnowledgeBase.objects.get(pk=knowledge_base.pk)
        return cls(stored.is_public, frozenset(stored.groups.values_list("name", flat=True)))


def record_readers_change(*, knowledge_base: KnowledgeBase, before: Readers, user) -> None:
    """An event when who may read the knowledge base changed since `before` (Readers.of it before
    saving; a new knowledge base starts readable by nobody)."""
    after = Readers.of(knowledge_base)
    if after == before:
        return
    added, removed = sorted(after.groups - before.groups), sorted(before.groups - after.groups)
    changes = [f"+{name}" for name in added] + [f"-{name}" for name in removed]
    if after.is_public != before.is_public:
        changes.insert(0, "public" if after.is_public else "not public")
    record(
        Event.Kind.PERMISSIONS,
        user=user,
        target=f"knowledge_base:{knowledge_base.id}",
        summary=f"{knowledge_base.name}: {' '.join(changes)}",
        is_public=after.is_public,
        was_public=before.is_public,
        groups_added=added,
        groups_removed=removed,
        groups=sorted(after.groups),
    )
