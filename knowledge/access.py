"""Which knowledge bases a manager manages, and whom they may let read one: the rule the admin and
the REST API both apply.

A manager works on the knowledge bases they may read, and may only give them to groups they are in.
Otherwise adding their own group to another group's knowledge base would hand them its documents.
Only a superuser makes a knowledge base readable by everyone (or takes that away): it grants, or
withdraws, every user at once. And a manager's knowledge base keeps one of their groups (unless it
is public), so that it cannot vanish from their own view when they save it.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, Group, User
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from knowledge.models import KnowledgeBase, KnowledgeBaseQuerySet

AnyUser = User | AnonymousUser

KEEP_ONE_OF_YOUR_GROUPS = _(
    "Choose at least one of your groups: without one you could not see this knowledge base after saving."
)
ONLY_SUPERUSERS_PUBLISH = _("Only a superuser can change whether a knowledge base is readable by everyone.")


def managed_knowledge_bases(user: AnyUser) -> KnowledgeBaseQuerySet:
    """The knowledge bases `user` manages: those they may read (all of them for a superuser).

    Each page and endpoint also requires the model permission of what it does there (view, add,
    change, delete); the admin and the API check it before they look here.
    """
    return KnowledgeBase.objects.readable_by(user)


def grantable_groups(user: AnyUser) -> QuerySet[Group]:
    """The groups `user` may let read a knowledge base: their own; every group for a superuser; none
    for an anonymous user (the API schema is built for one)."""
    if not user.is_authenticated:
        return Group.objects.none()
    groups = Group.objects.all() if user.is_superuser else Group.objects.filter(user=user)
    return groups.order_by("name")


def may_publish(user: AnyUser) -> bool:
    """Whether `user` may change a knowledge base's "readable by everyone"."""
    return user.is_superuser


def assignable_groups(*, user: AnyUser, knowledge_base: KnowledgeBase) -> QuerySet[Group]:
    """The groups `user` may name when saving `knowledge_base`: those they may grant and those it has."""
    current = knowledge_base.groups.all() if knowledge_base.pk else Group.objects.none()
    return Group.objects.filter(
        Q(id__in=grantable_groups(user).values("id")) | Q(id__in=current.values("id"))
    )


def kept_groups(*, user: AnyUser, knowledge_base: KnowledgeBase) -> list[Group]:
    """The groups of `knowledge_base` (unsaved: a new one) that `user` may not grant: they stay when
    the user saves it, since taking a group's access away is not theirs to do either."""
    if knowledge_base.pk is None:
        return []
    return list(knowledge_base.groups.exclude(id__in=grantable_groups(user)).order_by("name"))


def groups_to_save(*, user: AnyUser, knowledge_base: KnowledgeBase, chosen: Iterable[Group]) -> list[Group]:
    """The groups `knowledge_base` gets when `user` saves it with `chosen` (taken from
    assignable_groups): those, and the kept ones."""
    by_id = {group.id: group for group in [*chosen, *kept_groups(user=user, knowledge_base=knowledge_base)]}
    return list(by_id.values())


def grant_problems(
    *, user: AnyUser, knowledge_base: KnowledgeBase, groups: Iterable[Group], is_public: bool
) -> dict[str, str]:
    """What stops `user` from saving `knowledge_base` (as it is stored, or unsaved: a new one)
    readable by `groups` (from groups_to_save) and, if `is_public`, by everyone; by field name."""
    if may_publish(user):
        return {}
    if is_public != knowledge_base.is_public:
        return {"is_public": str(ONLY_SUPERUSERS_PUBLISH)}
    if not is_public and not grantable_groups(user).filter(id__in=[group.id for group in groups]).exists():
        return {"groups": str(KEEP_ONE_OF_YOUR_GROUPS)}
    return {}
