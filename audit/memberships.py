"""Group memberships changed, from Django's m2m_changed signal: a user's groups decide which
knowledge bases they read, so a membership is an access change. The signal fires for every way a
membership changes (the admin's user form, a group's users, the groups OIDC and LDAP mirror at
sign-in, a script), so none of them records it itself.

Who made the change is the signed-in user of the request being served, if any (audit.requests); a
directory's change at sign-in has nobody signed in yet: no user, and the address signing in."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed

from audit import requests
from audit.log import record
from audit.models import Event

LEAVING = "_audit_leaving"  # on the instance, from pre_remove/pre_clear to post_remove/post_clear


def _changed(
    sender: Any, *, instance: Any, action: str, reverse: bool, pk_set: set | None, **_kw: Any
) -> None:
    # pk_set holds what add() adds (Django leaves out memberships already there), but whatever remove()
    # was given: what actually goes is read before it goes.
    if action in ("pre_remove", "pre_clear"):
        setattr(instance, LEAVING, _memberships(instance, reverse, pk_set))
    elif action in ("post_remove", "post_clear"):
        _record_each(getattr(instance, LEAVING, []), "-")
    elif action == "post_add" and pk_set:
        _record_each(_memberships(instance, reverse, pk_set), "+")


def _memberships(instance: Any, reverse: bool, pk_set: set | None) -> list[tuple[Any, str]]:
    """(user, group name) of each of the instance's memberships among pk_set (all without one)."""
    if reverse:  # a group's users changed: pk_set are users
        members = instance.user_set.all() if pk_set is None else instance.user_set.filter(pk__in=pk_set)
        return [(user, instance.name) for user in members.order_by("pk")]
    groups = instance.groups.all() if pk_set is None else instance.groups.filter(pk__in=pk_set)
    return [(instance, name) for name in groups.values_list("name", flat=True)]


def _record_each(memberships: list[tuple[Any, str]], sign: str) -> None:
    """One event per user, naming the groups they joined (+) or left (-)."""
    by_member: dict[Any, list[str]] = {}
    for member, group in memberships:
        by_member.setdefault(member, []).append(group)
    for member, groups in by_member.items():
        _record(member, sign, sorted(groups))


def _record(member: Any, sign: str, groups: list[str]) -> None:
    request = requests.current()
    actor = getattr(request, "user", None)
    changes = " ".join(f"{sign}{name}" for name in groups)
    record(
        Event.Kind.MEMBERSHIP,
        user=actor if actor is not None and actor.is_authenticated else None,
        request=request,
        target=f"user:{member.pk}",
        summary=f"{member.get_username()}: {changes}",
        member=member.get_username(),
        groups_added=groups if sign == "+" else [],
        groups_removed=groups if sign == "-" else [],
    )


def connect() -> None:
    through = get_user_model().groups.through
    m2m_changed.connect(_changed, sender=through, dispatch_uid="audit.memberships")
