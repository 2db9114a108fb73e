from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group, User
from django.db.models import Count
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from knowledge import access, admin_views, audit_trail, embedders, floors, reembedding, services
from knowledge.languages import languages_label
from knowledge.models import EMBEDDER_STATE, Document, KnowledgeBase
from policy.admin import FlaggedFilter, FlagInline
from widgets.admin_links import widget_links

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

ADMIN_CSS = "knowledge/admin/document_progress.css"
IS_PUBLIC_HELP_FOR_MANAGERS = _(
    "Otherwise only the groups below may read it. Only a superuser can change this."
)


class _DocumentCount(TypedDict):
    _documents: int  # the admin's queryset annotates it


class KnowledgeBaseForm(forms.ModelForm):
    """A knowledge base as `user` may save it (knowledge.access): its groups they are not in stay,
    and they cannot leave it unreadable to themselves. The admin gives each request's form its user."""

    user: User
    embedder = forms.ChoiceField(
        label=_("embedder"),
        required=False,
        help_text=KnowledgeBase._meta.get_field("embedder").help_text,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(choice := self.fields.get("embedder"), forms.ChoiceField):
            current = self.instance.embedder
            choice.choices = [(name, name) for name in dict.fromkeys([*embedders.names(), current])]
            # What the knowledge base is moving to while a change runs: saving the form keeps it.
            choice.initial = self.instance.next_embedder or current
        kept = access.kept_groups(user=self.user, knowledge_base=self.instance)
        if kept and "groups" in self.fields:
            self.fields["groups"].help_text = _(
                "Also read by groups you are not in, which stay: %(groups)s"
            ) % {"groups": ", ".join(group.name for group in kept)}

    def clean_embedder(self) -> str:
        return self.cleaned_data["embedder"] or self.instance.next_embedder or self.instance.embedder

    def clean_groups(self) -> list[Group]:
        chosen = self.cleaned_data["groups"]
        return access.groups_to_save(user=self.user, knowledge_base=self.instance, chosen=chosen)

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        if "groups" in cleaned:
            problems = access.grant_problems(
                user=self.user,
                knowledge_base=self.instance,
                groups=cleaned["groups"],
                is_public=cleaned.get("is_public", self.instance.is_public),
            )
            for field, problem in problems.items():
                self.add_error(field, problem)
        return cleaned


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    form = KnowledgeBaseForm
    list_display = [
        "name",
        "slug",
        "is_public",
        "document_count",
        "embedder",
        "top_k",
        "chunk_overlap",
        "ocr",
        "index_health",
        "hit_testing_link",
        "faq_link",
    ]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["groups"]
    readonly_fields = ["document_count", "index_health", "embedder_change", "chat_widgets"]
    actions = ["rebuild_index"]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["name", "slug", "description"]}),
            (_("Who may read it"), {"fields": ["is_public", "groups"]}),
            (
                _("Retrieval"),
                {
                    "fields": [
                        "retrieval_mode",
                        "embedder",
                        *(["embedder_change"] if obj is not None else []),
                        "top_k",
                        "relevance_floor",
                        "faq_threshold",
                        "when_nothing_found",
                        "nothing_found_reply",
                        "chunk_overlap",
                    ]
                },
            ),
            (_("Reading"), {"fields": ["ocr"]}),
        ]
        if obj is not None:
            fieldsets.append((_("Index"), {"fields": ["document_count", "index_health"]}))
            fieldsets.append((_("Chat widgets"), {"fields": ["chat_widgets"]}))
        return fieldsets

    def get_queryset(self, request):
        managed = access.managed_knowledge_bases(request.user).values("id")
        return super().get_queryset(request).filter(id__in=managed).annotate(_documents=Count("documents"))

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if access.may_publish(request.user) else [*readonly, "is_public"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        help_texts = {"relevance_floor": floors.admin_help()}
        if not access.may_publish(request.user):
            help_texts["is_public"] = str(IS_PUBLIC_HELP_FOR_MANAGERS)
        kwargs["help_texts"] = help_texts
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})  # a class of this request's own

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = access.grantable_groups(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        form.readers_before = audit_trail.Readers.of(obj)  # as stored: the groups are saved after
        chosen = form.cleaned_data.get("embedder")
        if change:
            obj.refresh_from_db(fields=sorted(EMBEDDER_STATE))  # changed by knowledge.reembedding only
        super().save_model(request, obj, form, change)
        moving = change and chosen and chosen != (obj.next_embedder or obj.embedder)
        if moving and reembedding.knowledge_base_change_embedder(knowledge_base=obj, embedder=chosen):
            self.message_user(
                request,
                _("%(kb)s: every passage is being embedded by %(embedder)s in the background.")
                % {"kb": obj, "embedder": chosen},
            )

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        audit_trail.record_readers_change(
            knowledge_base=form.instance, before=form.readers_before, user=request.user
        )

    def delete_model(self, request, obj) -> None:
        services.knowledge_base_delete(knowledge_base=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for knowledge_base in queryset:
            services.knowledge_base_delete(knowledge_base=knowledge_base, user=request.user)

    @admin.display(description=_("documents"), ordering="_documents")
    def document_count(self, kb: "WithAnnotations[KnowledgeBase, _DocumentCount]") -> str:
        return format_html('<a href="{}">{}</a>', admin_views.changelist_url(kb.id), kb._documents)

    @admin.display(description=_("index health"))
    def index_health(self, kb: KnowledgeBase) -> str:
        check = services.knowledge_base_check_index(knowledge_base=kb)
        counts = _("%(chunks)d chunks · %(vectors)d vectors") % {
            "chunks": check.chunks,
            "vectors": check.vectors,
        }
        if check.ok:
            return format_html('<span class="kb-index kb-index-ok">{} ✓</span>', counts)
        return format_html(
            '<span class="kb-index kb-index-bad">{} — {}</span>',
            counts,
            _("mismatch: run “Rebuild search index”"),
        )

    @admin.display(description=_("change of embedder"))
    def embedder_change(self, kb: KnowledgeBase) -> str:
        if kb.next_embedder:
            return format_html(
                '<span class="kb-reembed">{}</span>',
                _(
                    "Embedding every passage with %(next)s: %(done)d of %(total)d done. Searches use "
                    "%(current)s until then."
                )
                % {
                    "next": kb.next_embedder,
                    "done": kb.reembed_done,
                    "total": kb.reembed_total,
                    "current": kb.embedder,
                },
            )
        if kb.reembed_error:
            return format_html(
                '<span class="kb-reembed kb-index-bad">{}</span>',
                _("The last change of embedder failed, so %(current)s stays: %(reason)s")
                % {"current": kb.embedder, "reason": kb.reembed_error},
            )
        return "—"

    @admin.display(description=_("chat widgets"))
    def chat_widgets(self, kb: KnowledgeBase) -> str:
        """Its widgets, each with its snippet on its page, and a link to add one (per knowledge base)."""
        return widget_links(kb)

    @admin.display(description=_("Hit testing"))
    def hit_testing_link(self, kb: KnowledgeBase) -> str:
        url = reverse("knowledge:hit_testing", args=[kb.slug])
        return format_html('<a class="kb-hit-testing" href="{}">{}</a>', url, _("Test retrieval"))

    @admin.display(description=_("FAQ pairs"))
    def faq_link(self, kb: KnowledgeBase) -> str:
        url = reverse("admin:faq_faqpair_changelist") + f"?knowledge_base__id__exact={kb.id}"
        return format_html('<a class="kb-faq" href="{}">{}</a>', url, kb.faq_pairs.count())

    @admin.action(description=_("Rebuild search index"))
    def rebuild_index(self, request, queryset) -> None:
        for kb in queryset:
            count = services.knowledge_base_rebuild_index(knowledge_base=kb, user=request.user)
            self.message_user(
                request, _("%(kb)s: search index rebuilt with %(n)d vectors.") % {"kb": kb, "n": count}
            )


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "knowledge_base",
        "state",
        "chunks",
        "size_display",
        "created_at",
    ]
    list_filter = [
        "status",
        ("knowledge_base", admin.RelatedOnlyFieldListFilter),
        "needs_ocr",
        FlaggedFilter,
    ]
    list_select_related = ["knowledge_base"]
    search_fields = ["title"]
    readonly_fields = [
        "knowledge_base",
        "file_link",
        "state",
        "chunks",
        "languages",
        "needs_ocr",
        "attempts",
        "sha256",
        "size_display",
        "mime",
        "uploaded_by",
        "source_location",
        "created_at",
        "updated_at",
    ]
    fields = ["title", *readonly_fields]
    actions = ["reindex"]
    inlines = [FlagInline]

    class Media:
        css = {"all": [ADMIN_CSS]}
        js = ["knowledge/admin/document_progress.js"]

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path(
                "progress/",
                view(admin_views.progress),
                {"model_admin": self},
                name="knowledge_document_progress",
            ),
            path(
                "reindex-failed/",
                view(admin_views.reindex_failed),
                {"model_admin": self},
                name="knowledge_document_reindex_failed",
            ),
        ]
        return own + super().get_urls()

    def get_queryset(self, request):
        managed = access.managed_knowledge_bases(request.user)
        return super().get_queryset(request).filter(knowledge_base__in=managed)

    def add_view(self, request, form_url="", extra_context=None):
        return admin_views.upload(request, model_admin=self)

    def changelist_view(self, request, extra_context=None):
        knowledge_base_id = request.GET.get(admin_views.KB_FILTER, "")
        failed = admin_views.failed_documents(self.get_queryset(request), knowledge_base_id).count()
        context = {
            "failed_count": failed if self.has_change_permission(request) else 0,
            "failed_knowledge_base": knowledge_base_id,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def delete_model(self, request, obj) -> None:
        services.document_delete(document=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for document in queryset:
            services.document_delete(document=document, user=request.user)

    @admin.display(description=_("status"), ordering="status")
    def state(self, document: Document) -> str:
        return admin_views.status_cell(document)

    @admin.display(description=_("chunks"), ordering="chunk_count")
    def chunks(self, document: Document) -> str:
        return format_html(
            '<span class="doc-chunks" data-document-id="{}">{}</span>', document.id, document.chunk_count
        )

    # On the document's page only: the list has no room for one more column on a laptop.
    @admin.display(description=_("languages"))
    def languages(self, document: Document) -> str:
        return languages_label(document.scripts) or self.get_empty_value_display()

    @admin.display(description=_("size"), ordering="size")
    def size_display(self, document: Document) -> str:
        return filesizeformat(document.size)

    @admin.display(description=_("file"))
    def file_link(self, document: Document) -> str:
        url = reverse("knowledge:download", args=[document.id])
        return format_html('<a href="{}">{}</a>', url, document.file.name.rsplit("/", 1)[-1])

    @admin.action(description=_("Re-index selected documents"))
    def reindex(self, request, queryset) -> None:
        count = services.documents_reindex(documents=queryset, user=request.user)
        text = ngettext(
            "%(n)d document queued for re-indexing.", "%(n)d documents queued for re-indexing.", count
        )
        self.message_user(request, text % {"n": count}, messages.SUCCESS)
