"""Reading a server folder (a mounted share) for a folder source: the files of the types documents
are made of, under the roots the setting SOURCE_FOLDER_ROOTS allows, never through a link out of it."""

import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from knowledge import extract
from knowledge.models import TITLE_CHARS
from sources.models import URL_CHARS, Source, SourceItem
from sources.outcomes import Failed, Found, SyncAborted

MB = 1024 * 1024


def allowed_folder(path: str) -> Path | None:
    """The folder with links resolved, when it is under an allowed root; None otherwise."""
    if not path or not Path(path).is_absolute():
        return None
    real = Path(path).resolve()
    for root in settings.SOURCE_FOLDER_ROOTS:
        if real.is_relative_to(Path(root).resolve()):
            return real
    return None


def _files(root: Path) -> Iterator[Path]:
    """Files of supported types under `root`, in name order; hidden ones and linked folders skipped."""
    for folder, subfolders, names in os.walk(root, followlinks=False):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in extract.SUPPORTED_EXTENSIONS:
                yield Path(folder) / name


def collect(*, source: Source, items: dict[str, SourceItem]) -> Iterator[Found | Failed]:
    root = allowed_folder(source.path)
    if root is None or not root.is_dir():
        raise SyncAborted(
            _(
                "the folder %(path)s cannot be read, or is not under an allowed root "
                "(setting SOURCE_FOLDER_ROOTS)."
            )
            % {"path": source.path}
        )
    limit = settings.SOURCE_PAGE_MAX_MB * MB
    for count, path in enumerate(_files(root)):
        if count >= source.max_pages:
            return
        location, title = str(path), str(path.relative_to(root))[:TITLE_CHARS]
        real = path.resolve()
        if len(location) > URL_CHARS:
            yield Failed(
                location[:URL_CHARS],
                _("its path is longer than %(count)d characters.") % {"count": URL_CHARS},
            )
            continue
        if not real.is_relative_to(root):
            yield Failed(location, _("a link to a file outside the folder; not read."))
            continue
        try:
            stat = real.stat()
            stamp = f"{stat.st_mtime_ns}:{stat.st_size}"
            item = items.get(location)
            if item is not None and item.last_modified == stamp:
                yield Found(location, title, path.name, None, last_modified=stamp)
            elif stat.st_size > limit:
                reason = _("larger than %(limit)d MB (setting SOURCE_PAGE_MAX_MB).")
                yield Failed(location, reason % {"limit": settings.SOURCE_PAGE_MAX_MB})
            else:
                yield Found(location, title, path.name, real.read_bytes(), last_modified=stamp)
        except OSError as error:
            yield Failed(location, _("could not be read (%(error)s).") % {"error": error.strerror or error})
