"""A `limits` storage in a SQLite file, so that the web processes of one machine count rate limits
together without a server (`sqlite:///path/to/file`, registered by importing this module).

Each use is a row (key, time, expiry). A use is recorded in one write transaction that counts the
key's uses within the window and adds one only while there is room: SQLite lets one writer in at a
time (BEGIN IMMEDIATE takes the write lock before counting), so processes hitting the same limit at
once cannot slip past it. The file is in WAL mode, so counting never waits for the readers.
Several machines count through Redis instead (CACHE_URL).
"""

import os
import random
import sqlite3
import threading
import time
from contextlib import closing
from urllib.parse import urlparse

from limits.storage import MovingWindowSupport, Storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at);
CREATE INDEX IF NOT EXISTS hits_expires ON hits (expires);
"""
# Uses past their window are removed with the key's next use; those of keys not used again, about
# once in this many uses.
SWEEP_EVERY = 1000
BUSY_TIMEOUT_SECONDS = 5.0


class SQLiteStorage(Storage, MovingWindowSupport):
    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = urlparse(uri).path
        self._local = threading.local()  # a connection per thread: views run on several
        with closing(self._open()) as connection:
            connection.executescript(SCHEMA)

    def _open(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Autocommit mode: the transactions are begun explicitly, as write transactions where needed.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # counts may be lost in a power cut, not corrupted
        return connection

    @property
    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._open()
        return connection

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        connection = self._connection
        now = time.time()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - expiry))
            (used,) = connection.execute("SELECT count(*) FROM hits WHERE key = ?", (key,)).fetchone()
            room = used + amount <= limit
            if room:
                rows = [(key, now, now + expiry)] * amount
                connection.executemany("INSERT INTO hits (key, at, expires) VALUES (?, ?, ?)", rows)
            if random.randrange(SWEEP_EVERY) == 0:
                connection.execute("DELETE FROM hits WHERE expires <= ?", (now,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return room

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """The time of the oldest use within the window (now when none), and the uses within it."""
        now = time.time()
        oldest, used = self._connection.execute(
            "SELECT min(at), count(*) FROM hits WHERE key = ? AND at > ?", (key, now - expiry)
        ).fetchone()
        return (oldest if used else now), used

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("Only the moving window strategy counts in SQLite.")

    def get(self, key: str) -> int:
        (used,) = self._connection.execute(
            "SELECT count(*) FROM hits WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return int(used)

    def get_expiry(self, key: str) -> float:
        (latest,) = self._connection.execute("SELECT max(expires) FROM hits WHERE key = ?", (key,)).fetchone()
        return float(latest) if latest is not None else time.time()

    def check(self) -> bool:
        try:
            self._connection.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connection.execute("DELETE FROM hits").rowcount

    def clear(self, key: str) -> None:
        self._connection.execute("DELETE FROM hits WHERE key = ?", (key,))
