"""The document admin's own pages: bulk upload, live progress (JSON), re-index of all failed documents."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from chatsite.admin_forms import admin_form_context
from chatsite.bad_requests import is_id
from knowledge import access, extract, services
from knowledge.models import Document, KnowledgeBase

KB_FILTER = "knowledge_base__id__exact"
MAX_PROGRESS_IDS = 500
MAX_NAMED = 20  # created documents named in the upload's message


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's documented pattern for a file field that takes several files at once. Empty files
    pass: the upload judges each file alone and names the empty ones, instead of the form refusing
    the whole selection."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_file_clean = super().clean
        if isinstance(data, list | tuple):
            return [single_file_clean(item, initial) for item in data]
        return [single_file_clean(data, initial)]


class UploadForm(forms.Form):
    """Fields made per form: the knowledge bases are the user's, and a field declared as `files` would
    look to mypy like it replaces the form's `files` (the uploaded data)."""

    def __init__(self, *args, knowledge_bases: QuerySet[KnowledgeBase], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["knowledge_base"] = forms.ModelChoiceField(
            knowledge_bases, label=gettext_lazy("Knowledge base")
        )
        files = MultipleFileField(label=gettext_lazy("Files"))
        extensions = [*extract.SUPPORTED_EXTENSIONS, ".zip"]
        files.widget.attrs["accept"] = ",".join(extensions)
        files.help_text = _(
            "Supported: %(types)s, and .zip archives of them. Each file becomes its own document; "
            "up to %(mb)d MB per file and %(count)d files per upload (put more in a .zip)."
        ) % {
            "types": ", ".join(extract.SUPPORTED_EXTENSIONS),
            "mb": settings.MAX_UPLOAD_MB,
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES or 0,
        }
        self.fields["files"] = files


def changelist_url(knowledge_base_id: object = None) -> str:
    url = reverse("admin:knowledge_document_changelist")
    return f"{url}?{KB_FILTER}={knowledge_base_id}" if knowledge_base_id else url


def failed_documents(documents: QuerySet[Document], knowledge_base_id: str | None) -> QuerySet[Document]:
    failed = documents.filter(status=Document.Status.FAILED)
    if knowledge_base_id and is_id(knowledge_base_id):
        failed = failed.filter(knowledge_base_id=int(knowledge_base_id))
    return failed


def _progress_label(document: Document) -> str:
    if document.status != Document.Status.PROCESSING:
        return ""
    if document.reading_scans:
        return _("OCR page %(done)d/%(total)d") % {
            "done": min(document.ocr_pages_done + 1, document.ocr_pages_total),
            "total": document.ocr_pages_total,
        }
    if not document.chunks_total:
        return _("reading the file…")
    return _("%(done)d/%(total)d chunks · %(percent)d%%") % {
        "done": document.chunks_done,
        "total": document.chunks_total,
        "percent": document.progress_percent,
    }


def progress_state(document: Document) -> dict:
    """What the status cell shows, for the page and for the poller alike."""
    return {
        "id": document.id,
        "status": document.status,
        "status_display": document.get_status_display(),
        "progress": document.progress_percent,
        "progress_label": _progress_label(document),
        "chunks_done": document.chunks_done,
        "chunks_total": document.chunks_total,
        "ocr_pages_done": document.ocr_pages_done,
        "ocr_pages_total": document.ocr_pages_total,
        "chunk_count": document.chunk_count,
        "error": document.error,
    }


def status_cell(document: Document) -> SafeString:
    return format_html(
        '<div class="doc-state" data-document-id="{id}" data-status="{status}" data-progress-url="{url}">'
        '<span class="doc-badge">{status_display}</span>'
        '<span class="doc-progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        'aria-valuenow="{progress}"><span class="doc-progress-bar"></span></span>'
        '<span class="doc-progress-label">{progress_label}</span>'
        '<div class="doc-reason">{error}</div></div>',
        url=reverse("admin:knowledge_document_progress"),
        **progress_state(document),
    )


def upload(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    filters = QueryDict(request.GET.get("_changelist_filters", ""))
    knowledge_bases = access.managed_knowledge_bases(request.user)
    only = knowledge_bases.values_list("id", flat=True)[:2]
    chosen = filters.get(KB_FILTER) or (only[0] if len(only) == 1 else None)  # the only one: preselected
    form = UploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial={"knowledge_base": chosen},
        knowledge_bases=knowledge_bases,
    )
    if form.is_valid():
        knowledge_base = form.cleaned_data["knowledge_base"]
        files = [(file.name, file) for file in form.cleaned_data["files"]]
        report = services.upload_files(
            knowledge_base=knowledge_base, files=files, user=request.user, max_files=settings.MAX_UPLOAD_FILES
        )
        _report_upload(request, report)
        return redirect(changelist_url(knowledge_base.id))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Upload documents"),
        "opts": Document._meta,
        **admin_form_context(form, ["knowledge_base", "files"]),
    }
    return TemplateResponse(request, "admin/knowledge/document/upload.html", context)


def _report_upload(request: HttpRequest, report: services.UploadReport) -> None:
    if report.created:
        count = len(report.created)
        text = ngettext(
            "%(n)d document queued for indexing: %(names)s.",
            "%(n)d documents queued for indexing: %(names)s.",
            count,
        )
        messages.success(request, text % {"n": count, "names": _named(report.created)})
    for duplicate in report.duplicates:
        link = reverse("admin:knowledge_document_change", args=[duplicate.existing.id])
        text = format_html('{} {} <a href="{}">{}</a>', _("Skipped:"), str(duplicate), link, _("Open it"))
        messages.info(request, text)
    for rejected in report.rejected:
        messages.warning(request, _("Not uploaded: %s") % rejected)


def _named(documents: list[Document]) -> str:
    """The documents' titles, the first MAX_NAMED of them, so that a large upload stays one line."""
    listed = ", ".join(document.title for document in documents[:MAX_NAMED])
    more = len(documents) - MAX_NAMED
    if more > 0:
        return _("%(names)s and %(count)s more") % {"names": listed, "count": f"{more:,}"}
    return listed


def progress(request: HttpRequest, model_admin: ModelAdmin) -> JsonResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    raw = [part for part in request.GET.get("ids", "").split(",") if part.strip()]
    if not all(is_id(part.strip()) for part in raw) or len(raw) > MAX_PROGRESS_IDS:
        return JsonResponse({"error": "ids: up to 500 comma-separated document ids"}, status=400)
    documents = model_admin.get_queryset(request).filter(id__in=[int(part) for part in raw])
    return JsonResponse({"documents": [progress_state(document) for document in documents]})


@require_POST
def reindex_failed(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    knowledge_base_id = request.POST.get("knowledge_base", "")
    failed = failed_documents(model_admin.get_queryset(request), knowledge_base_id)
    count = services.documents_reindex(documents=failed, user=request.user)
    text = ngettext("%(n)d failed document queued again.", "%(n)d failed documents queued again.", count)
    messages.success(request, text % {"n": count})
    return redirect(changelist_url(knowledge_base_id if is_id(knowledge_base_id) else None))
