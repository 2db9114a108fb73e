"""The first administrator's generated password: shown once to the person who started the app, and
kept in DATA_DIR for this user alone until the administrator changes it."""

import os
from pathlib import Path

from django.conf import settings


def password_file() -> Path:
    return settings.DATA_DIR / "admin-password.txt"


def password_save(*, username: str, password: str) -> Path:
    path = password_file()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"{username}\n{password}\n")
    path.chmod(0o600)  # also when the file was there before, with another mode
    return path


def password_forget_once_changed(sender, instance, update_fields=None, **kwargs) -> None:
    """post_save of users: once the first administrator's password is no longer the generated one,
    the file that holds it goes. Saves that cannot change it (e.g. the last login) are skipped."""
    if update_fields is not None and "password" not in update_fields:
        return
    path = password_file()
    try:
        username, password = path.read_text().splitlines()[:2]
    except (FileNotFoundError, ValueError):
        return
    if instance.get_username() == username and not instance.check_password(password):
        path.unlink(missing_ok=True)
