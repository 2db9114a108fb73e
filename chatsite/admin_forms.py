"""A plain form (not a ModelForm) laid out by the admin's own templates, for admin pages of ours."""

from typing import Any

from django import forms
from django.contrib.admin import helpers


def admin_form_context(form: forms.Form, fields: list[str]) -> dict[str, Any]:
    """The `adminform` and `errors` the admin's change-form templates render `form` from."""
    return {
        # The stubs ask for a ModelForm; the admin's helpers read only what every form has.
        "adminform": helpers.AdminForm(form, [(None, {"fields": fields})], {}),  # type: ignore[arg-type]
        "errors": helpers.AdminErrorList(form, []),  # type: ignore[arg-type]
    }
