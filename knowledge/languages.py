"""The languages documents are written in, as the share of each script in their text.

Recorded per document at ingestion, so that a question can be searched in the languages of the
documents it asks (chat.question_translation) without reading any text at question time, and shown
in the admin. Scripts, not languages, are what can be told cheaply and surely from text; the app's
two languages are English and Chinese, so Latin script is named English (a French document would be
too: it is searched alike).
"""

from collections.abc import Sequence

from django.utils.translation import gettext as _

from knowledge import probe
from knowledge.models import Document, KnowledgeBase

# A script counts as one of a document's languages from this share of its text: a Chinese guide
# naming "DeepSeek-R1" and "GPU" now and then is not an English document.
MAJOR_SHARE = 0.1


def text_scripts(texts: Sequence[str]) -> dict[str, float]:
    """The share of each script in the texts together (rounded to three places; the largest first).

    Each text weighs by its length in the probe's units (a Chinese character, a word of letters), not
    in characters: a Chinese character says about as much as a word, and counting characters doubled
    the share of the Chinese guide's code samples and product names (to 0.107, over MAJOR_SHARE)."""
    shares = probe.script_shares("\n".join(texts))
    return {script: round(share, 3) for script, share in sorted(shares.items(), key=lambda item: -item[1])}


def major_scripts(shares: dict[str, float]) -> set[str]:
    return {script for script, share in shares.items() if share >= MAJOR_SHARE}


def knowledge_base_scripts(knowledge_bases: Sequence[KnowledgeBase]) -> dict[int, set[str]]:
    """The probed scripts (probe.SCRIPTS) each knowledge base's ready documents are written in, by
    knowledge base id; one small query per probed script."""
    ready = Document.objects.filter(
        knowledge_base__in=[kb.id for kb in knowledge_bases], status=Document.Status.READY
    )
    found: dict[int, set[str]] = {kb.id: set() for kb in knowledge_bases}
    for script in probe.SCRIPTS:
        having = ready.filter(**{f"scripts__{script}__gte": MAJOR_SHARE})
        for kb_id in having.order_by().values_list("knowledge_base_id", flat=True).distinct():
            found[kb_id].add(script)
    return found


def language_name(script: str) -> str:
    names = {"latin": _("English"), "han": _("Chinese")}
    return names.get(script, _("other scripts"))


def languages_label(shares: dict[str, float]) -> str:
    """ "English 80 %, Chinese 20 %": each script with a share that rounds to at least 1 %."""
    shown = [(script, round(share * 100)) for script, share in shares.items()]
    return ", ".join(
        _("%(language)s %(percent)d %%") % {"language": language_name(script), "percent": percent}
        for script, percent in sorted(shown, key=lambda item: -item[1])
        if percent
    )
