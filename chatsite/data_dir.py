"""DATA_DIR holds the database, uploads, search indexes, broker messages and the secret key: it is
this service's user's alone, whatever the umask of the shell that started it."""

import os
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PRIVATE_DIR = 0o700


def prepare_data_dir(path: Path) -> None:
    """Create DATA_DIR (0700, also when an earlier version made it 0755), and make every file and
    folder this process creates from now on private to its user (umask 077): the SQLite database,
    its journal, the index segments and the broker's message files are created by libraries that
    take the mode from the umask."""
    os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    except OSError as exc:
        raise ImproperlyConfigured(f"DATA_DIR={path} cannot be created: {exc.strerror}.") from None
    try:
        path.chmod(PRIVATE_DIR)
    except PermissionError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ImproperlyConfigured(
                f"DATA_DIR={path} is readable by other users and this user cannot change that "
                "(it belongs to another user). Make it this user's, or run `chmod 700` on it."
            ) from None
