from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = _("Knowledge")

    def ready(self) -> None:
        from knowledge import embedder_config, search_index

        # A misconfigured backend or embedder stops start-up, naming the setting, instead of the
        # first search.
        search_index.backend()
        embedder_config.configured()
