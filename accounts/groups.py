"""Group membership from the directory (the OIDC groups claim): which Django groups a user is in after
signing in.

Claim values are Django group names (a group is created the first time a value appears). Which of the
user's groups the directory decides (OIDC_MIRROR_GROUPS):
- unset: the groups in the claim now, and those it gave before (remembered per user). A group an
  administrator gave by hand, and the directory never named, stays; a group the directory took away
  goes at the next sign-in.
- a list of names: only those; the claim's other values are ignored and other groups are left alone.
- `*`: all of them; the user's groups become exactly the claim's.
"""

import logging
from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser, Group

logger = logging.getLogger(__name__)
GROUP_NAME_LENGTH = 150  # Group.name


def claimed_group_names(value: object) -> list[str]:
    """The group names in a groups claim (a list of strings, or one string); values that cannot be a
    group name are logged and left out."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    names = []
    for item in values:
        if isinstance(item, str) and 0 < len(item.strip()) <= GROUP_NAME_LENGTH:
            names.append(item.strip())
        else:
            logger.warning("Ignoring a groups claim value that is no group name: %.80r", item)
    return sorted(set(names))


def mirror_groups(
    *,
    user: AbstractUser,
    claimed: Iterable[str],
    claimed_before: Iterable[str],
    managed: tuple[str, ...] | None,
) -> None:
    """Make `user`'s membership of the groups the directory manages (see above) follow `claimed`."""
    claimed, current = set(claimed), set(user.groups.values_list("name", flat=True))
    if managed is None:
        decided = claimed | set(claimed_before)
    elif managed == ("*",):
        decided = claimed | current
    else:
        decided = set(managed)
    wanted = (claimed & decided) | (current - decided)
    if wanted == current:
        return
    groups = [Group.objects.get_or_create(name=name)[0] for name in sorted(wanted - current)]
    user.groups.add(*groups)
    user.groups.remove(*Group.objects.filter(name__in=current - wanted))
