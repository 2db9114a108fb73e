"""The answer engine: the one place that decides how a question is answered.

A curated FAQ question matched at or above its knowledge base's FAQ threshold: the curated answer,
without the model (grounding FAQ). No model configured: the most relevant passages
(retrieval-only). Nothing relevant found: the knowledge base's own reply, or the model from general
knowledge where every knowledge base asked allows it. Otherwise: the prompt, the model's stream,
and the citations it made; FAQ pairs that match less well (down to FAQ_SUGGEST_FLOOR) are passages
ahead of the documents'. A model unavailable before anything streamed (MODEL_BUSY, once its own
retries are spent): its fallbacks in turn (chat.llm.model_chain), each with the prompt rebuilt for
its context. The last of them unreachable: the passages, as without a model, when the caller wants
that.

`Answer.events()` yields typed events: `Searching` (retrieval started), `Passages` (what the answer
may cite), `FellBack` (a fallback model answers instead), the model's `Reasoning` and `Content`,
`Usage`, an `Error`, `Withdrawn` (the content policy stopped the answer), and last `Outcome` with the
resolved citations and the model that answered. The chat page, the `ask` command, the REST ask and
`/v1` only relay these; saving a conversation is chat.recording's.
However an answer ends, the question is written to the audit log once, here, so that no way of
asking goes unrecorded (chat.question_log says what).

Where the knowledge bases hold documents in a language the search cannot reach from the question's
(a Chinese question, English documents, an English-only embedder), the question is also searched in
translation (chat.question_translation), when a model is configured.

The content policy (policy/) is applied here, once for every caller: the question is checked before
retrieval (a block list's term refuses it with the error CONTENT_POLICY; a mask list's goes to
retrieval and the model as asterisks), retrieved passages are masked, and the model's reply is read
through the word lists as it streams.
"""

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from itertools import pairwise

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from chat import citations, fixed_replies, llm, prompting, providers, question_log, question_translation
from chat.models import Message
from chatsite.db_threads import in_pool
from faq import matching as faq_matching
from knowledge.models import KnowledgeBase
from knowledge.retrieval import Passage, retrieve_passages
from policy import screening
from policy.streams import AnswerScreen
from usage import quotas

logger = logging.getLogger(__name__)

# Asked as an answer streams: whether to stop it (keeping what arrived), or whether the API key
# the question came with has been revoked since (ending it with an error).
Check = Callable[[], Awaitable[bool]]
StreamChat = Callable[[providers.ModelConfig, list[dict[str, str]]], AsyncGenerator[providers.Event, None]]
KEY_REVOKED = "invalid_api_key"  # the code of the error that ends such an answer (OpenAI's)
# Errors after which the model said nothing: the passages still answer, as without a model.
MODEL_UNAVAILABLE = frozenset({"unreachable", "timeout"})
# Errors before the first byte after which the model's fallbacks are asked (its own retries spent):
# it is out of reach, overloaded (503) or rate-limited (429), and another model may not be.
MODEL_BUSY = MODEL_UNAVAILABLE | {"overloaded", "rate_limited"}
CONTENT_POLICY = screening.QUESTION_BLOCKED  # the code of the error that refuses a question
CONTENT_FILTERED = "content_filter"  # the finish reason of a withdrawn answer (OpenAI's)


@dataclass(frozen=True)
class Question:
    text: str
    knowledge_bases: list[KnowledgeBase]  # those the asker may read
    history: list[dict[str, str]] = field(default_factory=list)  # what was said before, oldest first
    config: providers.ModelConfig | None = None  # None: retrieval-only
    access_lost: bool = False  # the conversation has knowledge bases, and the asker may read none
    client_instructions: Sequence[str] = ()  # an API client's own system messages
    # When the model cannot be reached, answer with the passages instead of failing.
    fall_back_to_passages: bool = True
    asker: User | None = None  # who asks: their quota, the audit log, content-policy hits
    via: str = ""  # how it was asked when not in the app itself ("widget:<name>"), for the audit log


@dataclass(frozen=True)
class Searching:
    """Retrieval has started."""


@dataclass(frozen=True)
class Passages:
    passages: list[Passage]  # those the answer may cite


@dataclass(frozen=True)
class FellBack:
    """`unavailable` failed before it said anything: `model`, one of its fallbacks, answers instead."""

    model: providers.ModelConfig
    unavailable: providers.ModelConfig
    error: providers.Error


# What the models' streams give the answer: their events, and the moves from one to the next.
Reply = providers.Event | FellBack


@dataclass(frozen=True)
class Withdrawn:
    """The content policy stopped the answer: what was shown of it is replaced by `notice`."""

    notice: str


@dataclass(frozen=True)
class Outcome:
    """The whole answer: the last event, and what `Answer.outcome()` says at any time."""

    content: str  # citation markers normalised to [n]
    reasoning: str
    citations: list[dict]
    mode: str  # a Message.Mode
    grounding: str  # a Message.Grounding
    status: str  # a Message.Status: complete, stopped or failed
    finish_reason: str
    timings: dict
    usage: providers.Usage | None = None
    cost_usd: float | None = None
    # Why it failed; or, with status complete and mode retrieval-only, why the model did not answer.
    error: providers.Error | None = None
    # The model that answered (the last one asked when none could), and the name of the one asked
    # when a fallback of it answered instead.
    model: providers.ModelConfig | None = None
    fallback_for: str = ""
    # The messages that model was sent, exactly as given to its provider (empty when no model was
    # asked): what a fine-tuning data set needs (chat.datasets). Bounded by the model's context.
    prompt: list[dict[str, str]] = field(default_factory=list)


Event = (
    Searching
    | Passages
    | FellBack
    | providers.Reasoning
    | providers.Content
    | providers.Usage
    | providers.Error
    | Withdrawn
    | Outcome
)


def error_message(error: providers.Error, *, administrator: bool) -> str:
    """What a person is told of an error: administrators also get its technical detail."""
    return f"{error.message} ({error.detail})" if administrator and error.detail else error.message


def retrieval_context(history: list[dict[str, str]]) -> list[str]:
    """The previous question and answer, for retrieving a follow-up question. Only what was said:
    reasoning is never part of the history."""
    last = {turn["role"]: turn["content"] for turn in history}
    return [last.get(Message.Role.USER, ""), citations.MARKER.sub("", last.get(Message.Role.ASSISTANT, ""))]


async def until_revoked(stream: AsyncGenerator[Reply, None], revoked: Check) -> AsyncGenerator[Reply, None]:
    """The model's events until the API key the question came with is revoked (or its user
    deactivated): then the upstream request is closed, so no more tokens are generated or billed,
    and the stream ends with an Error, as when the upstream fails."""
    async with aclosing(stream):
        async for event in stream:
            if await revoked():
                break
            yield event
        else:
            return
    yield providers.Error(
        code=KEY_REVOKED, message=_("The API key was revoked (or its user deactivated) while answering.")
    )


class Answer:
    """One answer to one question. Iterating `events()` drives it; `outcome()` says what has been
    answered so far, also when the events were cut short."""

    def __init__(
        self,
        question: Question,
        *,
        stopped: Check | None = None,
        revoked: Check | None = None,
        stream_chat: StreamChat | None = None,  # the model; providers.stream_chat unless scripted
    ) -> None:
        self.question = question
        self._stopped = stopped
        self._revoked = revoked
        self._stream_chat = stream_chat or providers.stream_chat
        self._started = time.monotonic()
        self._retrieval_ms = 0
        self._first_reasoning: float | None = None
        self._first_content: float | None = None
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._passages: list[Passage] = []
        self._mode = Message.Mode.LLM if question.config else Message.Mode.RETRIEVAL_ONLY
        self._model = question.config  # the model asked last
        self._prompt_sent: list[dict[str, str]] = []  # what it was sent
        self._grounding = Message.Grounding.DOCUMENTS
        self._status = Message.Status.COMPLETE
        self._finish_reason = "stop"
        self._usage: providers.Usage | None = None
        self._error: providers.Error | None = None
        self._checked: screening.CheckedQuestion | None = None
        self._refusal_asked = False
        self._refusal: providers.Error | None = None

    async def checked_question(self) -> screening.CheckedQuestion:
        """The question after the content policy (checked once, audited once): callers that must
        refuse before answering (`/v1`'s 400) ask early; the events ask anyway."""
        if self._checked is None:
            question = self.question
            self._checked = await in_pool(
                screening.check_question,
                writes=True,
                text=question.text,
                history=question.history,
                user=question.asker,
            )
        return self._checked

    async def events(self) -> AsyncGenerator[Event, None]:
        try:
            async with aclosing(self._answering()) as answering:
                async for event in answering:
                    yield event
        finally:  # finished, failed, stopped, or closed by a caller that went away
            outcome = self.outcome()
            await in_pool(question_log.record_question, writes=True, question=self.question, outcome=outcome)

    async def _answering(self) -> AsyncGenerator[Event, None]:
        try:
            if (refused := await self.refusal()) is not None:
                yield self._failed(refused)  # the first event, before anything is searched or billed
            else:
                yield Searching()
                async for event in self._decide():
                    yield event
        except Exception:
            logger.exception("Answering %r failed", self.question.text[:80])
            message = _("Something went wrong on our side while answering. Please try again.")
            yield self._failed(providers.Error(code="internal", message=message))
        yield self.outcome()

    async def refusal(self) -> providers.Error | None:
        """Why this answer may not start (the asker is over a quota), or None; asked once, so that a
        caller may ask before iterating `events()`, which then starts with it."""
        if not self._refusal_asked:
            self._refusal = await quotas.answer_refusal(user=self.question.asker)
            self._refusal_asked = True
        return self._refusal

    async def _decide(self) -> AsyncIterator[Event]:
        checked = await self.checked_question()
        if checked.blocked:
            notice = screening.question_blocked_notice()
            yield Passages([])
            yield self._failed(providers.Error(code=CONTENT_POLICY, message=notice))
            return
        question = self.question = replace(self.question, text=checked.text, history=checked.history)
        curated = await in_pool(
            faq_matching.match, question=question.text, knowledge_bases=question.knowledge_bases
        )
        hit = faq_matching.hit(curated, question.knowledge_bases)
        if hit is not None and not question.access_lost:
            self._retrieval_ms = self._ms_since_start(time.monotonic()) or 0
            shown = screening.masked_text(hit.answer, checked.matcher)
            for event in self._reply_without_model([], shown, Message.Grounding.FAQ):
                yield event
            return
        found = await self._retrieve(question)
        suggested = faq_matching.suggested_passages(curated)
        passages = screening.masked_passages(suggested + found, checked.matcher)
        self._retrieval_ms = self._ms_since_start(time.monotonic()) or 0
        if question.access_lost:
            # Not general knowledge either: the user asked these documents, and may no longer see them.
            replied = self._reply_without_model(
                [], fixed_replies.access_lost_reply(), Message.Grounding.NOT_FOUND
            )
        elif question.config is None:
            replied = self._reply_without_model(passages, fixed_replies.retrieval_only_answer(passages))
        elif fixed_replies.answers_nothing_found(passages, question.knowledge_bases):
            reply = fixed_replies.nothing_found_reply(question.knowledge_bases)
            replied = self._reply_without_model([], reply, Message.Grounding.NOT_FOUND)
        else:
            async for event in self._from_model(question.config, passages):
                yield event
            return
        for event in replied:
            yield event

    @staticmethod
    async def _retrieve(question: Question) -> list[Passage]:
        """The passages for the question: searched as asked, and in translation where the knowledge
        bases' documents are in a language the search cannot reach (chat.question_translation)."""
        translations: list[str] = []
        if question.config is not None:  # retrieval-only mode calls no model, not even to translate
            translations = await question_translation.translations_for(
                question=question.text, knowledge_bases=question.knowledge_bases
            )
        return await in_pool(
            retrieve_passages,
            question=question.text,
            knowledge_bases=question.knowledge_bases,
            context=retrieval_context(question.history),
            translations=translations,
        )

    def _reply_without_model(
        self, passages: list[Passage], text: str, grounding: Message.Grounding = Message.Grounding.DOCUMENTS
    ) -> list[Event]:
        self._passages, self._grounding = passages, grounding
        return [Passages(passages), self._said(text)]

    async def _from_model(
        self, config: providers.ModelConfig, passages: list[Passage]
    ) -> AsyncIterator[Event]:
        question = self.question
        models = llm.model_chain(config)
        messages = self._prompt(models[0], passages)
        if not passages:
            self._grounding = Message.Grounding.GENERAL
        yield Passages(self._passages)
        if await self._stop_asked():  # while the passages were being found
            return
        stream = self._replies(models, messages, passages)
        if self._revoked is not None:  # asked with an API key; a layer less for every token otherwise
            stream = until_revoked(stream, self._revoked)
        screen = AnswerScreen((await self.checked_question()).matcher)
        async with aclosing(stream):
            async for event in stream:
                if isinstance(event, FellBack):
                    yield event
                    continue
                stopping = await self._stop_asked()
                # A stop keeps what arrived, with what the screen held back to see whole terms.
                screened = screen.finish() if stopping else screen.read(event)
                if hits := screen.new_hits():
                    await in_pool(
                        screening.audit_hits,
                        writes=True,
                        hits=hits,
                        user=question.asker,
                        where=screening.Where.ANSWER,
                    )
                if screen.blocked:
                    yield self._withdrawn()
                    return  # closing the stream closes the upstream request: no more tokens are billed
                for piece in screened:
                    for shown in self._note(piece, passages):
                        yield shown
                if stopping:
                    return

    def _prompt(self, config: providers.ModelConfig, passages: list[Passage]) -> list[dict[str, str]]:
        """The messages for this model, trimmed to its context; it becomes the model asked."""
        question = self.question
        prompt = prompting.build_prompt(
            question=question.text,
            passages=passages,
            history=question.history,
            config=config,
            general_knowledge=not passages,
            client_instructions=question.client_instructions,
        )
        self._model, self._prompt_sent = config, prompt.messages
        self._passages = prompt.passages  # citations can only point at what the model saw
        return prompt.messages

    async def _replies(
        self, models: Sequence[providers.ModelConfig], messages: list[dict[str, str]], passages: list[Passage]
    ) -> AsyncGenerator[Reply, None]:
        """The reply of the first of `models` available. Each but the last hands over to the next
        (FellBack) when it fails with MODEL_BUSY before its first byte; the last one's error ends it."""
        for config, fallback in pairwise(models):
            busy: providers.Error | None = None
            said = False
            async with aclosing(self._stream_chat(config, messages)) as stream:
                async for event in stream:
                    if isinstance(event, providers.Error) and event.code in MODEL_BUSY and not said:
                        busy = event
                        break
                    said = said or isinstance(event, providers.Reasoning | providers.Content)
                    yield event
            if busy is None:
                return
            logger.warning("Model %r unavailable (%s): asking %r", config.name, busy.code, fallback.name)
            messages = self._prompt(fallback, passages)
            yield FellBack(model=fallback, unavailable=config, error=busy)
        async with aclosing(self._stream_chat(models[-1], messages)) as stream:
            async for event in stream:
                yield event

    async def _stop_asked(self) -> bool:
        if self._stopped is not None and await self._stopped():
            self._status = Message.Status.STOPPED
            return True
        return False

    def _note(self, event: providers.Event, passages: list[Passage]) -> list[Event]:
        """Note a model event on the answer; the events to pass on for it."""
        now = time.monotonic()
        match event:
            case providers.Reasoning(text=text):
                self._first_reasoning = self._first_reasoning or now
                self._reasoning.append(text)
            case providers.Content(text=text, replaces_reasoning=True):
                # A distill's untagged reply: what streamed as reasoning was the answer.
                self._first_reasoning = None
                self._reasoning.clear()
                self._first_content = self._first_content or now
                self._content.append(text)
            case providers.Content(text=text):
                self._first_content = self._first_content or now
                self._content.append(text)
            case providers.Usage():
                self._usage = event
            case providers.Done(finish_reason=reason):
                self._finish_reason = reason or "stop"
                return []
            case providers.Error(code=code) if self._falls_back(code):
                logger.warning("The language model is unavailable (%s): answering with the passages", code)
                self._mode, self._grounding, self._error = (
                    Message.Mode.RETRIEVAL_ONLY,
                    Message.Grounding.DOCUMENTS,
                    event,
                )
                self._passages = passages
                return [
                    self._said(
                        fixed_replies.retrieval_only_answer(passages, fixed_replies.model_unavailable_notice)
                    )
                ]
            case providers.Error():
                return [self._failed(event)]
        return [event]

    def _falls_back(self, code: str) -> bool:
        said_nothing = not self._reasoning and not self._content
        return self.question.fall_back_to_passages and code in MODEL_UNAVAILABLE and said_nothing

    def _withdrawn(self) -> Withdrawn:
        notice = screening.answer_withdrawn_notice()
        self._reasoning.clear()
        self._first_reasoning = None
        self._content[:] = [notice]
        self._finish_reason = CONTENT_FILTERED
        return Withdrawn(notice)

    def _said(self, text: str) -> providers.Content:
        self._content.append(text)
        return providers.Content(text)

    def _failed(self, error: providers.Error) -> providers.Error:
        self._status, self._error = Message.Status.FAILED, error
        return error

    def _ms_since_start(self, moment: float | None) -> int | None:
        return None if moment is None else round((moment - self._started) * 1000)

    def outcome(self) -> Outcome:
        content, cited = citations.resolve("".join(self._content), self._passages)
        if self._mode == Message.Mode.RETRIEVAL_ONLY:
            # Every passage shown is a citation.
            cited = [citations.passage_citation(n, p) for n, p in enumerate(self._passages, start=1)]
        config = self._model
        asked = self.question.config
        return Outcome(
            content=content,
            reasoning="".join(self._reasoning),
            citations=cited,
            mode=self._mode,
            grounding=self._grounding,
            status=self._status,
            finish_reason=self._finish_reason,
            timings=self._timings(),
            usage=self._usage,
            cost_usd=config.cost(self._usage) if config and self._usage else None,
            error=self._error,
            model=config,
            fallback_for=asked.name if asked and config != asked and self._mode == Message.Mode.LLM else "",
            prompt=self._prompt_sent,
        )

    def _timings(self) -> dict:
        reasoning_s = None
        if self._first_reasoning is not None:
            reasoning_s = round((self._first_content or time.monotonic()) - self._first_reasoning, 2)
        return {
            "retrieval_ms": self._retrieval_ms,
            "first_reasoning_ms": self._ms_since_start(self._first_reasoning),
            "reasoning_s": reasoning_s,
            "first_content_ms": self._ms_since_start(self._first_content),
            "total_ms": self._ms_since_start(time.monotonic()),
        }
