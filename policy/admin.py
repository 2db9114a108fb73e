from django.contrib import admin
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from policy import admin_views, services
from policy.forms import WordListForm
from policy.models import Flag, WordList


@admin.register(WordList)
class WordListAdmin(admin.ModelAdmin):
    form = WordListForm
    list_display = ["name", "action", "term_count", "updated_at"]
    list_filter = ["action"]
    search_fields = ["name", "terms"]
    actions = None  # deleting goes through delete_model, one list at a time, so the change is announced

    @admin.display(description=_("terms"))
    def term_count(self, word_list: WordList) -> str:
        return f"{len(word_list.term_list):,}"

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path(
                "<path:object_id>/import/",
                view(admin_views.import_terms),
                {"model_admin": self},
                name="policy_wordlist_import",
            ),
            path(
                "<path:object_id>/export/",
                view(admin_views.export_terms),
                {"model_admin": self},
                name="policy_wordlist_export",
            ),
        ]
        return own + super().get_urls()

    def save_model(self, request, obj, form, change) -> None:
        services.word_list_save(word_list=obj)

    def delete_model(self, request, obj) -> None:
        services.word_list_delete(word_list=obj)


class FlaggedFilter(admin.SimpleListFilter):
    """Documents by what the content policy found in them at ingestion."""

    title = _("content policy")
    parameter_name = "policy"

    def lookups(self, request, model_admin):
        return [("flagged", _("Flagged")), ("blocked", _("Not indexed: blocked"))]

    def queryset(self, request, queryset):
        if self.value() == "flagged":
            return queryset.filter(policy_flags__isnull=False).distinct()
        if self.value() == "blocked":
            return queryset.filter(policy_flags__action=WordList.Action.BLOCK).distinct()
        return queryset


class FlagInline(admin.TabularInline):
    """The terms of word lists found in a document at ingestion, on the document's admin page."""

    model = Flag
    extra = 0
    can_delete = False
    fields = readonly_fields = ("list_name", "action", "term", "marked_passage", "location")
    verbose_name = _("content policy flag")
    verbose_name_plural = _("content policy flags")

    class Media:
        css = {"all": ["policy/admin/flags.css"]}

    def has_view_permission(self, request, obj=None) -> bool:
        return True  # shown only inside the document's page, which checks the document's permissions

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("passage"))
    def marked_passage(self, flag: Flag) -> str:
        text = flag.passage
        return format_html(
            '<span class="policy-passage">{}<mark>{}</mark>{}</span>',
            text[: flag.term_start],
            text[flag.term_start : flag.term_end],
            text[flag.term_end :],
        )
