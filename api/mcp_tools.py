"""What the MCP server's tools do, for the user of the API key they are called with: thin adapters
over the knowledge bases the user may read, the search the REST API runs (knowledge.retrieval) and
the answer engine (chat.engine), as /v1 uses it.

A knowledge base the user may not read is "not found", worded as for one that does not exist, so
that a name tried tells nothing. What a tool cannot do raises ToolRefused with a message for the
caller, which the server returns as a tool error.
"""

import asyncio
from contextlib import aclosing
from functools import partial

from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from api.key_watch import key_revoked
from api.models import ApiKey
from chat import citations, engine, llm, rate_limits
from chatsite import draining
from chatsite.db_threads import in_pool
from knowledge import retrieval
from knowledge.models import KnowledgeBase
from knowledge.retrieval import Passage

MAX_KNOWLEDGE_BASES = 20  # named in one call


class ToolRefused(Exception):
    """The tool cannot do what it was asked; the message says why, in the caller's language."""


def passage_uri(chunk_id: int) -> str:
    return f"kbchat://passages/{chunk_id}"


def original_uri(document_id: int) -> str:
    return f"kbchat://documents/{document_id}/original"


def knowledge_bases_of(*, user: User) -> list[dict]:
    """The knowledge bases the user may read, by name."""
    readable = KnowledgeBase.objects.readable_by(user).order_by("name")
    return [{"slug": kb.slug, "name": kb.name, "description": kb.description} for kb in readable]


def named_knowledge_bases(*, user: User, slugs: list[str]) -> list[KnowledgeBase]:
    """The knowledge bases named (all the user may read when none are); ToolRefused for a name that
    is not one the user may read."""
    readable = KnowledgeBase.objects.readable_by(user).order_by("name")
    if not slugs:
        return list(readable)
    found = {kb.slug: kb for kb in readable.filter(slug__in=slugs)}
    for slug in slugs:
        if slug not in found:
            message = _("There is no knowledge base “%(slug)s”, or you may not read it.")
            raise ToolRefused(message % {"slug": slug})
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _passage(passage: Passage, slugs: dict[int, str]) -> dict:
    return {
        "rank": passage.rank,
        "relevance": round(passage.score, 4),
        "document": passage.document_title,
        "document_id": passage.document_id,
        "knowledge_base": slugs[passage.knowledge_base_id],
        "location": passage.location,
        "text": passage.text,
        "uri": passage_uri(passage.chunk_id),
        "original_uri": original_uri(passage.document_id),
    }


def search_passages(*, user: User, query: str, knowledge_bases: list[str], top_k: int | None) -> dict:
    """The passages the query retrieves, ranked as the chat ranks them (the REST search's)."""
    searched = named_knowledge_bases(user=user, slugs=knowledge_bases)
    result = retrieval.search(query=query, knowledge_bases=searched, top_k=top_k)
    slugs = {kb.id: kb.slug for kb in searched}
    return {
        "passages": [_passage(passage, slugs) for passage in result.passages],
        "below_floor": result.below_floor,
    }


def _citation(citation: dict) -> dict:
    """A citation as MCP clients get it: `n` is the [n] in the answer; a curated FAQ answer cited
    has no document to point at."""
    cited = {
        "n": citation["n"],
        "document": citation["document"],
        "location": citations.shown_location(citation),
        "relevance": round(citation["score"], 4),
        "text": citation["text"],
    }
    if not citation["document_id"]:
        return cited
    return cited | {
        "document_id": citation["document_id"],
        "uri": passage_uri(citation["chunk_id"]),
        "original_uri": original_uri(citation["document_id"]),
    }


async def _answer_budget_refusal(user: User) -> None:
    """One use of the user's answer budget, shared with the chat page, the REST ask and /v1."""
    wait = await asyncio.to_thread(rate_limits.seconds_to_wait, rate_limits.ANSWERS, str(user.pk))
    if wait:
        message = ngettext(
            "Too many questions in a short time. Try again in %(seconds)d second.",
            "Too many questions in a short time. Try again in %(seconds)d seconds.",
            wait,
        )
        raise ToolRefused(message % {"seconds": wait})


async def ask(
    *, key: ApiKey, question: str, knowledge_bases: list[str], model: str | None, include_reasoning: bool
) -> dict:
    """The engine's answer to the question from the knowledge bases named (all readable when none),
    with its citations; the model's reasoning only when asked for."""
    user = key.user
    await _answer_budget_refusal(user)
    asked = await in_pool(named_knowledge_bases, user=user, slugs=knowledge_bases)
    if not asked:
        raise ToolRefused(_("You may not read any knowledge base."))
    config = llm.model_named(model) if model else llm.model_config()
    if model and config is None:
        raise ToolRefused(_("There is no model “%(name)s”.") % {"name": model})
    answer = engine.Answer(
        engine.Question(
            text=question, knowledge_bases=asked, config=config, fall_back_to_passages=False, asker=user
        ),
        # Stopped, like every answer, when a shutdown's grace period ends (chatsite/draining.py).
        stopped=draining.past_grace,
        revoked=partial(key_revoked, key.digest),
    )
    async with aclosing(answer.events()) as events:
        async for _event in events:
            pass
    outcome = answer.outcome()
    if outcome.error is not None:
        raise ToolRefused(engine.error_message(outcome.error, administrator=user.is_staff))
    result = {
        "answer": outcome.content,
        "citations": [_citation(citation) for citation in outcome.citations],
        "model": outcome.model.name if outcome.model else None,
    }
    return result | ({"reasoning": outcome.reasoning} if include_reasoning else {})
