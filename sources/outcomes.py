"""What reading one page or file of a source came to; the sync (sources.syncing) applies them."""

from dataclasses import dataclass


class SyncAborted(Exception):
    """The whole sync cannot go on (the site or folder cannot be read): nothing is removed."""


class SyncStopped(Exception):
    """The sync ran out of time (SOURCE_SYNC_MAX_MINUTES): what it did stays, nothing is removed."""


@dataclass(frozen=True)
class Found:
    location: str  # the page's URL or the file's path
    title: str
    name: str  # a file name whose extension says the type the content is read as
    content: bytes | None  # None: unchanged, as its ETag, Last-Modified or file time says
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class Failed:
    """Could not be read this time; a document it became before is kept."""

    location: str
    reason: str
