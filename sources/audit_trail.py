"""What sources write to the audit log: a source added or changed (the settings that changed, and
only whether its credentials did, never their value), deleted, and every sync when it ends."""

from django.forms.models import model_to_dict

from audit.log import record
from audit.models import Event
from sources.models import SOURCE_SETTINGS, Source, SyncRun

AUDITED_SETTINGS = ["knowledge_base", *SOURCE_SETTINGS]


def settings_of(source: Source | None) -> dict:
    """The source's settings and its credential, as stored (empty when there is none yet), to compare
    with after saving; the credential never leaves this module."""
    stored = Source.objects.filter(pk=source.pk).first() if source and source.pk else None
    if stored is None:
        return {}
    return {**model_to_dict(stored, fields=AUDITED_SETTINGS), "secret": stored.auth_secret}


def record_source_save(*, source: Source, before: dict, user) -> None:
    """An event when a source was added, or when its settings or credentials changed since `before`
    (settings_of it before saving)."""
    after = settings_of(source)
    changes = {
        name: [before.get(name), value]
        for name, value in after.items()
        if name != "secret" and before and before[name] != value
    }
    credentials_changed = bool(before) and before["secret"] != after["secret"]
    if before and not changes and not credentials_changed:
        return
    listed = [*changes, *(["credentials"] if credentials_changed else [])]
    summary = f"{source.name}: {', '.join(listed)} changed" if before else f"{source.name}: added"
    record(
        Event.Kind.SOURCE,
        user=user,
        target=f"source:{source.id}",
        summary=summary,
        knowledge_base=source.knowledge_base.name,
        created=not before,
        changes=changes,
        credentials_changed=credentials_changed,
        credentials_set=source.has_secret,
    )


def record_source_delete(*, source: Source, documents: int, user) -> None:
    record(
        Event.Kind.DELETE,
        user=user,
        target=f"source:{source.id}",
        summary=source.name,
        knowledge_base=source.knowledge_base.name,
        documents=documents,
    )


def record_sync(*, run: SyncRun) -> None:
    """One event per sync when it ends, done or not, with what it did."""
    counts = {name: getattr(run, name) for name in ("added", "changed", "unchanged", "removed", "failed")}
    record(
        Event.Kind.SOURCE_SYNC,
        target=f"source:{run.source_id}",
        summary=f"{run.source.name}: {run.status} · "
        + ", ".join(f"{count} {name}" for name, count in counts.items()),
        sync=run.id,
        trigger=run.trigger,
        status=run.status,
        error=run.error,
        duplicates=len(run.duplicates),
        **counts,
    )
