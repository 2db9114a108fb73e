"""Where a passage sits in its document ("p. 3 · Pricing"), in the reader's language.

The page number and heading are kept apart and put into words when shown, so a citation saved
while its asker read English reads in Chinese to the next reader, and the other way round.
"""

from django.utils.translation import gettext as _


def location_label(*, page: int | None, heading: str) -> str:
    parts = []
    if page:
        parts.append(_("p. %(page)d") % {"page": page})
    if heading:
        parts.append(heading)
    return " · ".join(parts)
