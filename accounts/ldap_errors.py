"""Telling a directory that cannot be asked apart from a wrong password.

django-auth-ldap turns every directory error during a sign-in into "no such user", so the form would
say the password is wrong while the directory is down. It reports the error on its ldap_error signal
first: the receiver notes on the request what went wrong, and the sign-in form says so instead.
(A wrong password never reaches the signal: django-auth-ldap handles that itself.)
"""

import ldap
from django.http import HttpRequest

# The directory did not answer at all (no connection, or no reply within LDAP_TIMEOUT_SECONDS);
# any other error is the app's settings at fault: a certificate it does not trust (CONNECT_ERROR from
# StartTLS), a service account or search the directory refuses.
UNREACHABLE = (ldap.SERVER_DOWN, ldap.TIMEOUT)
ATTRIBUTE = "directory_problem"


def note_directory_problem(
    sender: object, *, request: HttpRequest | None, exception: ldap.LDAPError, **_: object
) -> None:
    """ldap_error receiver: mark the request "unreachable" or "refused" (django-auth-ldap logs the error).

    Whatever step failed (binding, finding the user, reading their groups), the sign-in failed with
    it; django-auth-ldap passes a request only for sign-ins.
    """
    if request is not None:
        setattr(request, ATTRIBUTE, "unreachable" if isinstance(exception, UNREACHABLE) else "refused")


def directory_problem(request: HttpRequest | None) -> str | None:
    """What went wrong with the directory during this request's sign-in, if anything."""
    return getattr(request, ATTRIBUTE, None)
