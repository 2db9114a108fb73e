"""ZIP archives read without trusting them: uploaded .zip files, and the parts of Word and Excel files.

Everything an archive says about itself can lie. Its table of contents (the central directory) costs
time and memory per entry to parse, so its size is read from the end record first; members are
unpacked in blocks while counting, so none is read past its limit whatever size it declares.
"""

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _

BLOCK = 1 << 16
# A table-of-contents entry is 46 bytes plus the member's name and extra fields; real ones stay far
# below this, so a table larger than this per allowed member can only list more members.
DIRECTORY_BYTES_PER_MEMBER = 1024
ENCRYPTED = 0x1  # general purpose flag bit 0
UTF8_NAME = 0x800  # general purpose flag bit 11: the name is UTF-8, not code page 437

_END = struct.Struct("<4s4H2LH")
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_COMMENT_MAX = 0xFFFF
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class ArchiveProblem(Exception):
    """The archive or one member cannot be read; the message is a reason for a person."""


class MemberTooLarge(Exception):
    """A member unpacks to more than the limit it was read with."""


@dataclass(frozen=True)
class Directory:
    entries: int
    size: int  # bytes


def declared_directory(file: IO[bytes]) -> Directory | None:
    """The table of contents' entries and size as the end record declares them, without parsing the
    table; None when there is no end record (not a ZIP archive)."""
    file.seek(0, os.SEEK_END)
    file.seek(max(0, file.tell() - _END.size - _COMMENT_MAX))
    tail = file.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        return None
    end = _END.unpack_from(tail, at)
    directory = Directory(entries=end[4], size=end[5])
    locator = at - _END64_LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        # ZIP64: the real numbers are in a record of their own, where the locator points.
        file.seek(_END64_LOCATOR.unpack_from(tail, locator)[2])
        record = file.read(_END64.size)
        if len(record) == _END64.size and record.startswith(b"PK\x06\x06"):
            end64 = _END64.unpack(record)
            directory = Directory(entries=end64[7], size=end64[8])
    return directory


def open_archive(file: IO[bytes], *, max_members: int) -> zipfile.ZipFile:
    """The archive, once its table of contents holds at most `max_members` entries; else ArchiveProblem."""
    directory = declared_directory(file)
    if directory is None:
        raise ArchiveProblem(_("the .zip archive is damaged."))
    if directory.entries > max_members:
        raise ArchiveProblem(_too_many(directory.entries, max_members))
    if directory.size > max_members * DIRECTORY_BYTES_PER_MEMBER:
        raise ArchiveProblem(
            _(
                "its table of contents is %(size)s bytes, more than %(limit)s entries can take "
                "(setting MAX_ZIP_MEMBERS)."
            )
            % {"size": f"{directory.size:,}", "limit": f"{max_members:,}"}
        )
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except (*_READ_ERRORS, UnicodeDecodeError):
        raise ArchiveProblem(_("the .zip archive is damaged.")) from None
    if len(archive.infolist()) > max_members:  # the end record understated it
        archive.close()
        raise ArchiveProblem(_too_many(len(archive.infolist()), max_members))
    return archive


def _too_many(entries: int, limit: int) -> str:
    return _("the archive has %(count)s entries; the limit is %(limit)s (setting MAX_ZIP_MEMBERS).") % {
        "count": f"{entries:,}",
        "limit": f"{limit:,}",
    }


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's path as its author saw it. Names not flagged as UTF-8 are code page 437 by the
    standard, but Windows writes them in the system's code page (GBK in China) and older macOS tools
    in UTF-8 without the flag: those are read as such when they decode."""
    if info.flag_bits & UTF8_NAME or info.filename.isascii():
        return info.filename
    raw = info.filename.encode("cp437")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def unreadable_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member cannot be unpacked at all, seen from its entry alone."""
    if info.flag_bits & ENCRYPTED:
        return _("it is encrypted; zip it again without a password.")
    if info.compress_type not in _METHODS:
        return _method_reason(info)
    return None


def _method_reason(info: zipfile.ZipInfo) -> str:
    return _(
        "it is compressed with a method this server cannot unpack (method %(method)d); "
        "zip it again with the usual (Deflate) compression."
    ) % {"method": info.compress_type}


def unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, into: IO[bytes] | None, *, limit: int) -> int:
    """Unpack a member into `into` (or only count it) in blocks; its size, or MemberTooLarge as soon as
    it passes `limit` bytes, or ArchiveProblem when it is damaged."""
    size = 0
    try:
        with archive.open(info) as member:
            while block := member.read(BLOCK):
                size += len(block)
                if size > limit:
                    raise MemberTooLarge
                if into is not None:
                    into.write(block)
    except NotImplementedError:
        raise ArchiveProblem(_method_reason(info)) from None
    except zipfile.BadZipFile as error:
        if "CRC" in str(error):
            raise ArchiveProblem(_("it is damaged: its contents do not match their checksum.")) from None
        raise ArchiveProblem(_("it is damaged and cannot be unpacked.")) from None
    except _READ_ERRORS:
        raise ArchiveProblem(unreadable_reason(info) or _("it is damaged and cannot be unpacked.")) from None
    return size
