"""The word list admin's own pages: import a .txt into a list, and export a list as one."""

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chatsite.admin_forms import admin_form_context
from policy import services
from policy.forms import ImportForm
from policy.models import WordList
from policy.terms import export_text


def _word_list(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> WordList:
    word_list = model_admin.get_object(request, object_id)
    if word_list is None:
        raise Http404
    return word_list


def import_terms(request: HttpRequest, object_id: str, model_admin: ModelAdmin) -> HttpResponse:
    word_list = _word_list(request, model_admin, object_id)
    if not model_admin.has_change_permission(request, word_list):
        raise PermissionDenied
    posted = request.method == "POST"
    form = ImportForm(request.POST if posted else None, request.FILES if posted else None)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            added = services.word_list_import(
                word_list=word_list,
                data=upload.read(settings.POLICY_IMPORT_MAX_KB * 1024 + 1),  # a larger one is refused
                replace=form.cleaned_data["replace"],
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            text = ngettext(
                "%(count)s term imported into “%(list)s”; it has %(total)s.",
                "%(count)s terms imported into “%(list)s”; it has %(total)s.",
                added,
            )
            total = f"{len(word_list.term_list):,}"
            messages.success(request, text % {"count": f"{added:,}", "list": word_list.name, "total": total})
            return redirect(reverse("admin:policy_wordlist_change", args=[word_list.id]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Import terms into “%(list)s”") % {"list": word_list.name},
        "opts": WordList._meta,
        "original": word_list,
        **admin_form_context(form, ["file", "replace"]),
    }
    return TemplateResponse(request, "admin/policy/wordlist/import.html", context)


def export_terms(request: HttpRequest, object_id: str, model_admin: ModelAdmin) -> HttpResponse:
    word_list = _word_list(request, model_admin, object_id)
    if not model_admin.has_view_permission(request, word_list):
        raise PermissionDenied
    response = HttpResponse(export_text(word_list.term_list), content_type="text/plain; charset=utf-8")
    name = slugify(word_list.name) or f"word-list-{word_list.id}"
    response["Content-Disposition"] = f'attachment; filename="{name}.txt"'
    return response
