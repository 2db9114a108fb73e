"""Audit events for changes to chat widgets (their questions are audited as any other's)."""

from django.contrib.auth.models import User

from audit.log import record
from audit.models import Event
from widgets.models import Widget


def record_widget_change(*, widget: Widget, user: User, action: str, changed: list[str]) -> None:
    """`action` is created, changed, deleted or new-secret; `changed` names the fields changed."""
    record(
        Event.Kind.WIDGET,
        user=user,
        target=f"widget:{widget.pk}",
        summary=f"{action}: {widget.name}",
        action=action,
        changed=changed,
        knowledge_bases=[kb.name for kb in widget.knowledge_bases.all()] if widget.pk else [],
        allowed_origins=widget.origin_list(),
        access=widget.access,
        enabled=widget.enabled,
    )
