from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from chat import llm, personal_data

        llm.models()  # a mistake in LLM_MODELS stops the app at start, naming the entry
        personal_data.patterns()  # and one in DATASET_PII_PATTERNS, naming the pattern
