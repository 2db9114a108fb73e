"""The feedback users give answers, read-only: the rating and comment with the question, the answer
and the passages it cited; filtered by rating, knowledge base and date. Actions: save thumbs-up
answers to the FAQ, and download the selected answers as a fine-tuning data set (chat.datasets)."""

from django.conf import settings
from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from chat import datasets, feedback
from chat.models import Feedback, Message
from faq import selectors as faq_selectors
from faq import services as faq_services
from knowledge import access


class KnowledgeBaseFilter(admin.SimpleListFilter):
    """The knowledge bases the conversation searched, of those the user manages."""

    title = _("knowledge base")
    parameter_name = "knowledge_base"

    def lookups(self, request, model_admin):
        managed = access.managed_knowledge_bases(request.user).order_by("name")
        return [(str(kb.id), kb.name) for kb in managed]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        offered = {value for value, _name in self.lookup_choices}
        if self.value() not in offered:
            return queryset.none()
        return queryset.filter(conversation__knowledge_bases=self.value())


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["created_at", "rating", "comment", "question", "knowledge_base_names", "asked_by"]
    list_display_links = ["created_at", "comment"]
    list_filter = ["rating", KnowledgeBaseFilter, ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["reply_to", "conversation__user"]
    search_fields = ["feedback", "content", "reply_to__content"]
    ordering = ["-created_at", "-id"]
    readonly_fields = (
        "created_at",
        "asked_by",
        "knowledge_base_names",
        "rating",
        "feedback",
        "question",
        "answer",
        "passages",
        "model",
    )
    fields = readonly_fields
    actions = ["save_to_faq", "export_dataset"]

    def get_queryset(self, request):
        answers = feedback.feedback_visible_to(user=request.user).select_related(*self.list_select_related)
        # The prompt is up to a model's context per answer: only the data set download reads it.
        return answers.prefetch_related("conversation__knowledge_bases").defer("prompt")

    def get_object(self, request, object_id, from_field=None):
        answer = super().get_object(request, object_id, from_field)
        if answer is not None:
            answer.citations = feedback.citations_visible_to(user=request.user, answer=answer)
        return answer

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_save_to_faq_permission(self, request) -> bool:
        return request.user.has_perm("faq.add_faqpair")

    @admin.action(description=_("Save thumbs-up answers to the FAQ"), permissions=["save_to_faq"])
    def save_to_faq(self, request, queryset) -> None:
        saved = 0
        for answer in queryset.filter(rating=Message.Rating.UP).select_related("reply_to"):
            knowledge_base = faq_selectors.knowledge_base_for(user=request.user, answer=answer)
            if knowledge_base is not None and answer.reply_to is not None and answer.content.strip():
                faq_services.pair_from_answer(answer=answer, knowledge_base=knowledge_base, user=request.user)
                saved += 1
        text = ngettext(
            "%(n)d answer saved to the FAQ (edit it under FAQ pairs).",
            "%(n)d answers saved to the FAQ (edit them under FAQ pairs).",
            saved,
        )
        self.message_user(request, text % {"n": saved}, messages.SUCCESS if saved else messages.WARNING)
        if skipped := queryset.count() - saved:
            self.message_user(
                request,
                ngettext(
                    "%(n)d answer skipped: only answers rated good with a text are saved.",
                    "%(n)d answers skipped: only answers rated good with a text are saved.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    def has_export_dataset_permission(self, request) -> bool:
        return request.user.has_perm("chat.export_dataset")

    @admin.action(description=_("Download as a fine-tuning data set"), permissions=["export_dataset"])
    def export_dataset(self, request, queryset) -> StreamingHttpResponse | None:
        """The selected answers that can be exported and that searched only knowledge bases the user
        manages (datasets.readable_by: their passages are in the lines), as JSON lines, always
        without personal data: a download leaves the server, and whoever needs it kept runs
        manage.py export_dataset there. At most DATASET_ADMIN_MAX_ROWS at once; the command has no
        limit."""
        if (chosen := queryset.count()) > settings.DATASET_ADMIN_MAX_ROWS:
            text = _(
                "Select at most %(max)d answers to download at once (you selected %(n)d), or use "
                "manage.py export_dataset."
            )
            self.message_user(
                request, text % {"max": settings.DATASET_ADMIN_MAX_ROWS, "n": chosen}, messages.ERROR
            )
            return None
        queryset = datasets.readable_by(queryset, user=request.user)
        datasets.record_export(
            filters=datasets.Filters(),  # the list's own filters chose the answers
            found=datasets.counts(queryset),
            keep_personal_data=False,
            request=request,
            via="admin",
            selected=chosen,
            list_filters=request.GET.urlencode(),
        )
        response = StreamingHttpResponse(
            datasets.streamed_lines(queryset.prefetch_related(None)), content_type="application/jsonl"
        )
        name = f"dataset-{timezone.localtime():%Y%m%d-%H%M}.jsonl"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.display(description=_("comment"))
    def comment(self, answer: Feedback) -> str:
        return Truncator(answer.feedback).chars(120) or "—"

    @admin.display(description=_("question"))
    def question(self, answer: Feedback) -> str:
        return answer.reply_to.content if answer.reply_to else "—"

    @admin.display(description=_("answer"))
    def answer(self, answer: Feedback) -> str:
        return answer.content or answer.error or "—"

    @admin.display(description=_("knowledge bases"))
    def knowledge_base_names(self, answer: Feedback) -> str:
        return ", ".join(kb.name for kb in answer.conversation.knowledge_bases.all())

    @admin.display(description=_("asked by"), ordering="conversation__user__username")
    def asked_by(self, answer: Feedback) -> str:
        return answer.conversation.user.get_username()

    @admin.display(description=_("passages cited"))
    def passages(self, answer: Feedback) -> str:
        if not answer.citations:
            return "—"
        return format_html(
            '<ol class="feedback-passages">{}</ol>',
            format_html_join(
                "",
                "<li><strong>[{}] {}</strong> {}<blockquote>{}</blockquote></li>",
                (
                    (cited["n"], cited["document"], cited.get("location", ""), cited["text"])
                    for cited in answer.citations
                ),
            ),
        )
