"""Which knowledge bases a manager manages: the rule the admin and the REST API both apply."""

from django.contrib.auth.models import AbstractUser, AnonymousUser

from knowledge.models import KnowledgeBase, KnowledgeBaseQuerySet

AnyUser = AbstractUser | AnonymousUser


def managed_knowledge_bases(user: AnyUser) -> KnowledgeBaseQuerySet:
    """The knowledge bases `user` manages: those they may read (all of them for a superuser).

    Each page and endpoint also requires the model permission of what it does there (view, add,
    change, delete); the admin and the API check it before they look here.
    """
    return KnowledgeBase.objects.readable_by(user)
