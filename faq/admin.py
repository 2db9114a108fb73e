"""FAQ pairs in the admin, beside the documents of each knowledge base: list (filtered by knowledge
base), edit, delete, import from CSV or Excel, and add from a thumbs-up answer (`?from_message=`).
Scoped like the documents: a manager sees the pairs of the knowledge bases they manage."""

from django import forms
from django.contrib import admin
from django.urls import path
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _

from chatsite.bad_requests import is_id
from faq import admin_views, importing, selectors, services
from faq.models import FaqPair
from knowledge import access


class AlternativesField(forms.CharField):
    """The alternative phrasings, one a line (or separated by |)."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:  # type: ignore[override]  # a list, not a str
        return importing.split_alternatives(super().to_python(value) or "")


class FaqPairForm(forms.ModelForm):
    alternatives = AlternativesField(
        label=capfirst(FaqPair._meta.get_field("alternatives").verbose_name),
        required=False,
        help_text=_("Other ways to ask it, one a line."),
    )

    class Meta:
        model = FaqPair
        fields = ["knowledge_base", "question", "answer", "alternatives"]

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        question = " ".join(cleaned.get("question", "").split())
        alternatives = [a for a in cleaned.get("alternatives", []) if a != question]
        cleaned["question"], cleaned["alternatives"] = question, alternatives
        answer = cleaned.get("answer", "")
        if question and answer and (problem := importing.row_problem(question, answer, alternatives)):
            raise forms.ValidationError(problem)
        knowledge_base = cleaned.get("knowledge_base")
        if self.instance.pk is None and knowledge_base is not None and services.is_full(knowledge_base):
            raise forms.ValidationError(services.limit_message())
        return cleaned


@admin.register(FaqPair)
class FaqPairAdmin(admin.ModelAdmin):
    form = FaqPairForm
    list_display = ["question", "short_answer", "alternative_count", "knowledge_base", "updated_at"]
    list_filter = [("knowledge_base", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["knowledge_base"]
    search_fields = ["question", "answer"]
    readonly_fields = ["created_by", "from_message", "created_at", "updated_at"]

    def get_fields(self, request, obj=None):
        fields = ["knowledge_base", "question", "answer", "alternatives"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_urls(self):
        view = self.admin_site.admin_view
        imports = view(admin_views.import_pairs)
        own = [path("import/", imports, {"model_admin": self}, name="faq_faqpair_import")]
        return own + super().get_urls()

    def get_queryset(self, request):
        managed = access.managed_knowledge_bases(request.user)
        return super().get_queryset(request).filter(knowledge_base__in=managed)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "knowledge_base":
            kwargs["queryset"] = access.managed_knowledge_bases(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _answer(self, request):
        message_id = request.GET.get("from_message", "")
        if not is_id(message_id):
            return None
        return selectors.answer_to_save(user=request.user, message_id=int(message_id))

    def get_changeform_initial_data(self, request) -> dict:
        initial: dict = dict(super().get_changeform_initial_data(request))
        if (answer := self._answer(request)) is not None:
            question, text = services.draft_from_answer(answer)
            knowledge_base = selectors.knowledge_base_for(user=request.user, answer=answer)
            initial |= {"question": question, "answer": text, "knowledge_base": knowledge_base}
        return initial

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.from_message = self._answer(request)
        services.pair_save(pair=obj, user=request.user)

    def delete_model(self, request, obj) -> None:
        services.pair_delete(pair=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for pair in queryset.select_related("knowledge_base"):
            services.pair_delete(pair=pair, user=request.user)

    def changelist_view(self, request, extra_context=None):
        chosen = request.GET.get(admin_views.KB_FILTER, "")
        context = {"import_knowledge_base": chosen if is_id(chosen) else "", **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description=_("answer"))
    def short_answer(self, pair: FaqPair) -> str:
        return Truncator(pair.answer).chars(100)

    @admin.display(description=_("alternatives"))
    def alternative_count(self, pair: FaqPair) -> int:
        return len(pair.alternatives)
