"""The relevance floor a question meets in a knowledge base: a fixed number, or automatic per script.

A passage whose relevance (`retrieval`'s docstring) is below the floor is never sent to the model, so
an off-topic question gets "nothing found" instead of a confident answer from an unrelated passage.
Relevance means different things by the question's script: with the default English-only embedder
a Chinese question is ranked by BM25 alone and an English one by BM25 and cosine together, so one
number cannot suit both. A knowledge base whose floor is empty ("automatic") uses the floor of the
question's script: the setting where one is given, else the number calibrated with
`eval_retrieval --off-topic` on the public sets (README, "Relevance floors"): the floor that leaves
the fewest off-topic questions with passages while fewer than 2 % of in-domain ones lose all theirs.
"""

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from knowledge import probe
from knowledge.models import KnowledgeBase

# Calibrated with the default embedder (all-MiniLM-L6-v2), README "Relevance floors": SciFact loses
# 0.7 % of its questions at 0.22 and 11.7 % of English off-topic ones keep passages; CMRC 2018 loses
# 1.2 % at 0.20, and 48.3 % of Chinese off-topic ones keep passages (BM25 alone tells them apart poorly).
CALIBRATED = {"latin": 0.22, "han": 0.20}
_AUTOMATIC = {
    "latin": gettext_lazy("%(floor).2f, automatic for questions in English (Latin script)"),
    "han": gettext_lazy("%(floor).2f, automatic for questions in Chinese"),
}


def floor_script(query: str) -> str:
    """The script whose floor the question meets: "han" when Chinese makes up a major part of it
    (a Chinese question naming "DeepSeek-V3", and with the default embedder one ranked by BM25
    alone), else "latin" (also for questions in scripts that have no floor of their own)."""
    return "han" if probe.script_shares(query).get("han", 0.0) >= probe.MAJOR_SCRIPT_SHARE else "latin"


def automatic_floors() -> dict[str, float]:
    """The floor per script of knowledge bases left on automatic: settings over calibration."""
    configured = {"latin": settings.RELEVANCE_FLOOR_LATIN, "han": settings.RELEVANCE_FLOOR_HAN}
    return {script: CALIBRATED[script] if value is None else value for script, value in configured.items()}


def relevance_floor(knowledge_base: KnowledgeBase, query: str) -> float:
    """The floor this question's passages in this knowledge base must reach."""
    if knowledge_base.relevance_floor is not None:
        return knowledge_base.relevance_floor
    return automatic_floors()[floor_script(query)]


def automatic_summary() -> str:
    """What "automatic" means on this server, in words."""
    return _(
        "automatic, %(latin).2f for questions in English (Latin script) and %(han).2f for Chinese ones"
    ) % (automatic_floors())


def describe(knowledge_base: KnowledgeBase, query: str = "") -> str:
    """The floor a knowledge base applies, in words: to this question when one is given."""
    if knowledge_base.relevance_floor is not None:
        return _("%(floor).2f, set for this knowledge base") % {"floor": knowledge_base.relevance_floor}
    if not query:
        return automatic_summary()
    return _AUTOMATIC[floor_script(query)] % {"floor": relevance_floor(knowledge_base, query)}


def admin_help() -> str:
    """The floor field's help in the admin, with what automatic means on this server."""
    field = KnowledgeBase._meta.get_field("relevance_floor")
    return _("%(help)s Now: %(automatic)s.") % {"help": field.help_text, "automatic": automatic_summary()}
