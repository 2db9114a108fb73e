"""The FAQ admin's own page: importing pairs from a CSV or Excel file."""

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatsite.admin_forms import admin_form_context
from faq import importing, services
from faq.models import FaqPair
from knowledge import access
from knowledge.models import KnowledgeBase

KB_FILTER = "knowledge_base__id__exact"
LISTED_SKIPPED = 50  # skipped rows named one by one; the count says how many in all


class ImportForm(forms.Form):
    def __init__(self, *args, knowledge_bases: QuerySet[KnowledgeBase], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["knowledge_base"] = forms.ModelChoiceField(
            knowledge_bases, label=gettext_lazy("Knowledge base")
        )
        self.fields["file"] = forms.FileField(
            label=gettext_lazy("File"),
            help_text=gettext_lazy(
                "CSV or Excel .xlsx. First row: question, answer and optionally alternatives (or 问题, "
                "答案, 相似问题); alternatives separated by new lines or |. A question already in the "
                "knowledge base gets the file's answer."
            ),
            widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt,.tsv"}),
        )


def changelist_url(knowledge_base_id: object = None) -> str:
    url = reverse("admin:faq_faqpair_changelist")
    return f"{url}?{KB_FILTER}={knowledge_base_id}" if knowledge_base_id else url


def import_pairs(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    knowledge_bases = access.managed_knowledge_bases(request.user)
    posted = request.method == "POST"
    form = ImportForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        initial={"knowledge_base": request.GET.get("knowledge_base")},
        knowledge_bases=knowledge_bases,
    )
    if form.is_valid():
        knowledge_base, file = form.cleaned_data["knowledge_base"], form.cleaned_data["file"]
        try:
            report = services.pairs_import(
                knowledge_base=knowledge_base, name=file.name, file=file, user=request.user
            )
        except (importing.ImportFileError, services.FaqLimitError) as error:
            form.add_error("file", str(error))
        else:
            _report(request, report)
            return redirect(changelist_url(knowledge_base.id))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Import FAQ pairs"),
        "opts": FaqPair._meta,
        **admin_form_context(form, ["knowledge_base", "file"]),
    }
    return TemplateResponse(request, "admin/faq/faqpair/import.html", context, status=400 if posted else 200)


def _report(request: HttpRequest, report: services.ImportReport) -> None:
    messages.success(
        request,
        _("Imported: %(created)d new pairs, %(updated)d updated.")
        % {"created": report.created, "updated": report.updated},
    )
    if report.skipped:
        rows = "; ".join(
            _("row %(row)s: %(reason)s") % {"row": row, "reason": reason}
            for row, reason in report.skipped[:LISTED_SKIPPED]
        )
        more = len(report.skipped) - LISTED_SKIPPED
        if more > 0:
            rows += " " + _("(and %(count)d more rows)") % {"count": more}
        messages.warning(
            request, _("%(count)d rows skipped: %(rows)s") % {"count": len(report.skipped), "rows": rows}
        )
