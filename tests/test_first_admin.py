"""The first administrator's generated password: printed only to a person at a terminal, kept for
this user alone, and gone once it has been changed."""

import io
import stat

import pytest
from django.contrib.auth.models import User, update_last_login
from django.core.management import call_command

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path


def ensure_admin(output: io.StringIO) -> str:
    call_command("ensure_admin", stdout=output)
    return output.getvalue()


def saved_password(settings) -> str:
    return (settings.DATA_DIR / "admin-password.txt").read_text().splitlines()[1]


def test_it_keeps_the_password_out_of_logs(settings):
    logged = ensure_admin(io.StringIO())
    password = saved_password(settings)
    assert User.objects.get(username="admin").check_password(password)
    assert password not in logged and "admin-password.txt" in logged
    assert stat.S_IMODE((settings.DATA_DIR / "admin-password.txt").stat().st_mode) == 0o600


def test_it_shows_the_password_to_a_person_at_a_terminal(settings):
    shown = ensure_admin(Terminal())
    assert saved_password(settings) in shown


def test_it_does_nothing_once_there_is_an_administrator(settings):
    ensure_admin(io.StringIO())
    assert ensure_admin(Terminal()) == ""


def test_the_saved_password_goes_once_it_has_been_changed(settings):
    ensure_admin(io.StringIO())
    admin = User.objects.get(username="admin")
    update_last_login(None, admin)
    admin.email = "it@example.com"
    admin.save()
    assert (settings.DATA_DIR / "admin-password.txt").exists()  # still the generated password
    admin.set_password("a-new-long-password-2")
    admin.save()
    assert not (settings.DATA_DIR / "admin-password.txt").exists()


def test_another_users_password_change_leaves_it(settings, user):
    ensure_admin(io.StringIO())
    user.set_password("another-password-3")
    user.save()
    assert (settings.DATA_DIR / "admin-password.txt").exists()
