"""Word and Excel files are ZIP packages of XML parts, checked before a reader opens them.

python-docx and openpyxl unpack each part into memory whole, and python-docx builds a tree of every
XML part, several times its size: a 1.3 MB .docx that unpacks to hundreds of megabytes took 2.4 GB.
"""

import zipfile
from typing import IO

from django.utils.translation import gettext as _

from knowledge import archives
from knowledge.formats.common import ExtractionError, ReadingLimits

MB = 1024 * 1024
# Below this a part may compress by any ratio: small parts of repeated markup are common.
RATIO_FROM_BYTES = MB


def check_package(file: IO[bytes], limits: ReadingLimits, *, kind: str) -> None:
    """Refuse a package whose parts declare more bytes than the limit, a part that unpacks to more than
    the allowed multiple of its packed size (a ZIP bomb), or a part that unpacks past what it declares
    (each is unpacked in blocks and counted, never held in memory). `kind` names the file for a person:
    "The Word document"."""
    try:
        package = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError):
        return  # its reader says it is damaged, in its own words
    with package:
        parts = package.infolist()
        _check_declared_size(parts, limits, kind)
        for part in parts:
            _check_ratio(part, limits, kind)
        for part in parts:
            try:
                archives.unpack(package, part, None, limit=part.file_size)
            except (archives.ArchiveProblem, archives.MemberTooLarge):
                reason = _("%(kind)s could not be read: its part %(part)s is damaged.")
                raise ExtractionError(reason % {"kind": kind, "part": part.filename}) from None


def _check_declared_size(parts: list[zipfile.ZipInfo], limits: ReadingLimits, kind: str) -> None:
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.unpacked_bytes:
        reason = _(
            "%(kind)s unpacks to %(size)s MB; the limit is %(limit)s MB (setting INGEST_MAX_UNPACKED_MB)."
        )
        size, limit = f"{unpacked / MB:,.1f}", f"{limits.unpacked_bytes // MB:,}"
        raise ExtractionError(reason % {"kind": kind, "size": size, "limit": limit})


def _check_ratio(part: zipfile.ZipInfo, limits: ReadingLimits, kind: str) -> None:
    ratio = part.file_size / max(part.compress_size, 1)
    if part.file_size > RATIO_FROM_BYTES and ratio > limits.unpacked_ratio:
        reason = _(
            "%(kind)s looks like a ZIP bomb: its part %(part)s unpacks to %(ratio)s times its packed size; "
            "the limit is %(limit)s (setting INGEST_MAX_ZIP_RATIO)."
        )
        values = {
            "kind": kind,
            "part": part.filename,
            "ratio": f"{ratio:,.0f}",
            "limit": limits.unpacked_ratio,
        }
        raise ExtractionError(reason % values)
