"""What makes a source's settings unusable, by field: the rule the admin form and the API apply."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from sources.folders import allowed_folder
from sources.models import URL_CHARS, Source

HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")


def _web_url_problem(url: str) -> str | None:
    if not url:
        return _("A web source needs a start URL.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("Only http and https addresses can be synced.")
    if parts.username or parts.password:
        return _("Put credentials in the credential fields, not in the address.")
    if len(url) > URL_CHARS:
        return _("At most %(count)d characters.") % {"count": URL_CHARS}
    return None


def source_problems(*, source: Source, secret_after_save: bool) -> dict[str, str]:
    """What stops `source` (its fields as they would be saved) from being synced, by field name;
    `secret_after_save` says whether it will have a password or header value."""
    problems: dict[str, str] = {}
    if source.kind == Source.Kind.WEB:
        if problem := _web_url_problem(source.url):
            problems["url"] = problem
        elif source.prefix and (_web_url_problem(source.prefix) or not source.url.startswith(source.prefix)):
            problems["prefix"] = _("An http or https address that the start URL begins with.")
    elif allowed_folder(source.path) is None:
        roots = ", ".join(settings.SOURCE_FOLDER_ROOTS) or _("none; an administrator sets them")
        problems["path"] = _(
            "A full path under a folder sources may read (setting SOURCE_FOLDER_ROOTS: %(roots)s)."
        ) % {"roots": roots}
    if source.max_depth > settings.SOURCE_MAX_DEPTH:
        problems["max_depth"] = _("At most %(count)d (setting SOURCE_MAX_DEPTH).") % {
            "count": settings.SOURCE_MAX_DEPTH
        }
    if not 1 <= source.max_pages <= settings.SOURCE_MAX_PAGES:
        problems["max_pages"] = _("From 1 to %(count)d (setting SOURCE_MAX_PAGES).") % {
            "count": settings.SOURCE_MAX_PAGES
        }
    if 0 < source.interval_minutes < settings.SOURCE_MIN_INTERVAL_MINUTES:
        problems["interval_minutes"] = _(
            "0, or at least %(count)d (setting SOURCE_MIN_INTERVAL_MINUTES)."
        ) % {"count": settings.SOURCE_MIN_INTERVAL_MINUTES}
    if source.auth != Source.Auth.NONE:
        if source.kind != Source.Kind.WEB:
            problems["auth"] = _("Credentials are for web sources only.")
        elif not secret_after_save:
            problems["auth"] = _("Give the password or the header's value.")
        elif source.auth == Source.Auth.HEADER and not HEADER_NAME.fullmatch(source.auth_header_name):
            problems["auth_header_name"] = _("A header name, such as Authorization.")
        elif source.auth == Source.Auth.BASIC and not source.auth_username:
            problems["auth_username"] = _("Give the user name.")
    return problems


def secret_problem(secret: str) -> str | None:
    if len(secret) > 2000 or any(ch in secret for ch in "\r\n\0"):
        return _("At most 2000 characters, on one line.")
    return None
