from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from knowledge import services
from knowledge.models import Document, KnowledgeBase


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_public", "document_count", "top_k"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["groups"]
    actions = ["rebuild_index"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_documents=Count("documents"))

    @admin.display(description=_("documents"), ordering="_documents")
    def document_count(self, kb: KnowledgeBase) -> int:
        return kb._documents

    @admin.action(description=_("Rebuild the search index from the database"))
    def rebuild_index(self, request, queryset) -> None:
        for kb in queryset:
            count = services.knowledge_base_rebuild_index(knowledge_base=kb)
            self.message_user(
                request, _("%(kb)s: index rebuilt with %(n)d passages.") % {"kb": kb, "n": count}
            )


class DocumentUploadForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ["knowledge_base", "file", "title"]

    title = forms.CharField(required=False, help_text=_("Defaults to the file name."))

    def clean(self):
        data = super().clean()
        kb, upload = data.get("knowledge_base"), data.get("file")
        if kb and upload:
            try:
                data["sha256"] = services.upload_check(knowledge_base=kb, file=upload, name=upload.name)
            except services.UploadRejected as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "knowledge_base", "status_badge", "chunk_count", "size_kb", "created_at"]
    list_filter = ["status", "knowledge_base"]
    search_fields = ["title"]
    readonly_fields = ["knowledge_base", "file", "status", "error", "chunk_count", "sha256", "size", "mime"]
    actions = ["reindex"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = DocumentUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["knowledge_base", "file", "title"]
        return ["title", *self.readonly_fields]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        upload = form.cleaned_data["file"]
        services.document_store(
            document=obj, file=upload, name=upload.name, sha256=form.cleaned_data["sha256"], user=request.user
        )

    def delete_model(self, request, obj) -> None:
        services.document_delete(document=obj)

    def delete_queryset(self, request, queryset) -> None:
        for document in queryset:
            services.document_delete(document=document)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, document: Document) -> str:
        return format_html(
            '<span class="doc-status doc-status-{}" title="{}">{}</span>{}',
            document.status,
            document.error,
            document.get_status_display(),
            format_html('<div class="doc-error">{}</div>', document.error) if document.error else "",
        )

    @admin.display(description=_("size"), ordering="size")
    def size_kb(self, document: Document) -> str:
        return f"{document.size / 1024:.0f} KB"

    @admin.action(description=_("Re-index the selected documents"))
    def reindex(self, request, queryset) -> None:
        for document in queryset:
            services.document_reindex(document=document)
        self.message_user(
            request, _("%d documents queued for indexing.") % queryset.count(), messages.SUCCESS
        )
