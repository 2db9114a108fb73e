"""The replies the answer engine (chat.engine) gives without a model's words: the passages as they
are when no model is configured or it cannot be reached, the knowledge bases' nothing-found reply,
and the reply to a conversation whose knowledge bases its user may no longer read."""

from collections.abc import Callable

from django.utils.translation import gettext as _

from knowledge.models import KnowledgeBase
from knowledge.retrieval import Passage


def retrieval_only_notice(found: bool) -> str:
    if not found:
        return _(
            "**No language model is configured**, and no relevant passages were found in the selected "
            "knowledge bases."
        )
    return _(
        "**No language model is configured**, so this is not a written answer: here are the most "
        "relevant passages from the documents."
    )


def model_unavailable_notice(found: bool) -> str:
    if not found:
        return _(
            "**The language model could not be reached**, and no relevant passages were found in the "
            "selected knowledge bases. Please try again later."
        )
    return _(
        "**The language model could not be reached**, so this is not a written answer: here are the "
        "most relevant passages from the documents. Please try again later."
    )


def retrieval_only_answer(
    passages: list[Passage], notice: Callable[[bool], str] = retrieval_only_notice
) -> str:
    blocks = [notice(bool(passages))]
    for number, passage in enumerate(passages, start=1):
        where = f" — {passage.location}" if passage.location else ""
        blocks.append(f"[{number}] {passage.document_title}{where}\n\n{passage.text}")
    return "\n\n".join(blocks)


def answers_nothing_found(passages: list[Passage], knowledge_bases: list[KnowledgeBase]) -> bool:
    """Whether the reply is the fixed nothing-found one: no passage cleared the relevance floor and
    not every knowledge base searched lets the model answer from general knowledge instead."""
    general = KnowledgeBase.WhenNothingFound.GENERAL
    return not passages and not all(kb.when_nothing_found == general for kb in knowledge_bases)


def nothing_found_reply(knowledge_bases: list[KnowledgeBase]) -> str:
    """The first custom reply of the knowledge bases searched, or the standard one."""
    custom = next((kb.nothing_found_reply for kb in knowledge_bases if kb.nothing_found_reply.strip()), "")
    return custom or _(
        "The documents in the selected knowledge bases do not cover this question, so I cannot answer "
        "it from them. Try other words, or ask the people who maintain these documents."
    )


def access_lost_reply() -> str:
    return _(
        "You can no longer read the knowledge bases this conversation asks, so it cannot be answered "
        "from them. Choose a knowledge base you can read, or start a new chat."
    )
