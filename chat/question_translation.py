"""Searching a question also in translation, where the embedder cannot cross languages.

BM25 never finds an English passage for a Chinese question, and an English-only embedder (the
default) cannot either: its skill across scripts, as the probe measures it, is near chance. So when
the knowledge bases asked hold documents in a script other than the question's, and the embedder
cannot reach that script from the question's (probe crossing skill below retrieval.USABLE_SKILL, or
a search with no dense side), the question is also searched in that language: translated by one
short call to the task model (chat.brief_calls: never any reasoning, in or out), and both searches
are fused by retrieval.search, each passage keeping its highest relevance.

The translation is skipped, and the question searched as asked, when the setting
QUESTION_TRANSLATION is off, in retrieval-only mode (no model), for a question longer than
MAX_QUESTION_CHARS, and when the call fails. Translations are cached by model, language and
question, so a question asked again costs no call.
"""

import asyncio
import hashlib
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache

from chat import brief_calls, llm
from chat.model_config import ModelConfig
from chatsite.db_threads import in_pool
from knowledge import embedders, languages, probe, retrieval
from knowledge.models import KnowledgeBase

# Longer questions are not translated: a search wants the question, not a pasted document.
MAX_QUESTION_CHARS = 1000
MAX_TRANSLATION_CHARS = 2000
CACHE_SECONDS = 7 * 24 * 3600
# The answer waits for its translations before it searches: a slow one is given up sooner than
# other short calls, and the question searched as asked.
TIMEOUT_SECONDS = 10.0
# The language the model is asked to translate into, per script (in English: these are instructions).
TARGET_LANGUAGES = {"latin": "English", "han": "Chinese"}
INSTRUCTIONS = (
    "Translate the user's question into {language}, for searching documents written in {language}. "
    "Reply with the translation only: do not answer the question, explain or add quotation marks. "
    "Keep names, product names, numbers and codes as they are."
)


def _skills(embedder: str) -> dict[str, float] | None:
    """The knowledge base's embedder's probe skills; None when it cannot embed now (searched by words)."""
    try:
        return embedders.get(embedder).skills()
    except embedders.EmbedderError:
        return None


def _dense_side_used(question: str, mode: str, skills: dict[str, float] | None) -> bool:
    if skills is None:
        return False
    return mode == "dense" or (mode == "hybrid" and retrieval.dense_weight(question, skills=skills) > 0)


def target_scripts(
    *, question: str, knowledge_bases: Sequence[KnowledgeBase], mode: str | None = None
) -> list[str]:
    """The scripts the question should also be searched in: those the knowledge bases' documents
    are written in (knowledge.languages) that are not the question's, where the knowledge base's
    search (or `mode`) cannot reach them from the question's script with its own embedder."""
    asked = probe.major_script(question)
    if asked is None:
        return []
    written = languages.knowledge_base_scripts(knowledge_bases)
    targets: set[str] = set()
    for kb in knowledge_bases:
        skills = _skills(kb.embedder)
        dense = _dense_side_used(question, mode or kb.retrieval_mode, skills)
        for script in written[kb.id] - {asked}:
            crossing = (skills or {}).get(probe.crossing(asked, script), 0.0)
            if not dense or crossing < retrieval.USABLE_SKILL:
                targets.add(script)
    return sorted(targets & set(TARGET_LANGUAGES))


def _cache_key(config: ModelConfig, script: str, question: str) -> str:
    digest = hashlib.sha256(f"{config.base_url}\n{config.model}\n{question}".encode()).hexdigest()
    return f"question-translation:{script}:{digest}"


async def translate(question: str, *, script: str, config: ModelConfig) -> str | None:
    """The question in the language of `script`, from the cache or the model; None when the call
    fails (not cached: the next asking tries again)."""
    key = _cache_key(config, script, question)
    if (cached := await cache.aget(key)) is not None:
        return cached
    instructions = INSTRUCTIONS.format(language=TARGET_LANGUAGES[script])
    reply = await brief_calls.brief_reply(instructions, question, config=config, timeout=TIMEOUT_SECONDS)
    if reply is None:
        return None
    translation = reply[:MAX_TRANSLATION_CHARS]
    await cache.aset(key, translation, CACHE_SECONDS)
    return translation


def translating_model(question: str) -> ModelConfig | None:
    """The model that would translate this question, or None when it is not to be translated."""
    if not settings.QUESTION_TRANSLATION or len(question) > MAX_QUESTION_CHARS:
        return None
    return llm.task_model()


async def translate_into(question: str, scripts: Sequence[str], *, config: ModelConfig) -> list[str]:
    """The translations that came back, one call per script at once."""
    replies = await asyncio.gather(*(translate(question, script=s, config=config) for s in scripts))
    return [reply for reply in replies if reply]


async def translations_for(*, question: str, knowledge_bases: Sequence[KnowledgeBase]) -> list[str]:
    """The translations to search the question in as well (see the module docstring); [] for none."""
    config = translating_model(question)
    if config is None or not knowledge_bases:
        return []
    scripts = await in_pool(target_scripts, question=question, knowledge_bases=knowledge_bases)
    return await translate_into(question, scripts, config=config) if scripts else []
