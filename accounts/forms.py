from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.ldap_errors import directory_problem

DIRECTORY_MESSAGES = {
    "unreachable": _(
        "The company directory did not answer, so your password could not be checked. "
        "Please try again in a few minutes; if it keeps happening, tell an administrator."
    ),
    "refused": _(
        "The company directory refused to check your password because of a problem with this "
        "application's settings. Please tell an administrator."
    ),
}


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which says so when the directory, not the password, was the problem."""

    def get_invalid_login_error(self) -> ValidationError:
        problem = directory_problem(self.request)
        if problem is None:
            return super().get_invalid_login_error()
        return ValidationError(DIRECTORY_MESSAGES[problem], code=f"directory_{problem}")
