"""Stateless answers for the OpenAI-compatible endpoint.

The client sends the whole conversation: its last user message is the question, the turns before
it are the history (what was said only: reasoning is never sent back), and its system messages are
kept beside ours. Retrieval, the prompt, the model stream and the citations are the chat's own
(chat.answering, chat.prompting, chat.providers, chat.citations); nothing is saved.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from chat import answering, citations, prompting, providers
from knowledge.models import KnowledgeBase
from knowledge.retrieval import Passage

Event = providers.Reasoning | providers.Content | providers.Error


@dataclass(frozen=True)
class ChatRequest:
    knowledge_base: KnowledgeBase
    config: providers.ModelConfig | None  # None: retrieval-only mode
    question: str
    history: list[dict[str, str]]  # user and assistant turns before the question, oldest first
    client_instructions: Sequence[str] = ()


@dataclass
class StatelessAnswer:
    """One answer. Iterating `events()` drives it; then `passages`, `usage`, `finish_reason` and
    `error` describe it and `cited()` resolves its citations."""

    request: ChatRequest
    revoked: answering.Revoked | None = None  # asked as it streams: whether the API key was revoked since
    passages: list[Passage] = field(default_factory=list)  # the passages the answer may cite
    usage: providers.Usage | None = None
    finish_reason: str = "stop"
    error: providers.Error | None = None
    _content: list[str] = field(default_factory=list)

    async def events(self) -> AsyncIterator[Event]:
        request = self.request
        kb = request.knowledge_base
        passages = await answering.retrieve(request.question, [kb], request.history)
        if request.config is None:
            self.passages = passages
            yield self._said(answering.retrieval_only_answer(passages))
            return
        if answering.answers_nothing_found(passages, [kb]):
            yield self._said(answering.nothing_found_reply([kb]))
            return
        prompt = prompting.build_prompt(
            question=request.question,
            passages=passages,
            history=request.history,
            config=request.config,
            general_knowledge=not passages,
            client_instructions=request.client_instructions,
        )
        self.passages = prompt.passages  # citations can only point at what the model saw
        stream = answering.until_revoked(providers.stream_chat(request.config, prompt.messages), self.revoked)
        async for event in stream:
            match event:
                case providers.Content(text=text):
                    self._content.append(text)
                    yield event
                case providers.Reasoning():
                    yield event
                case providers.Usage():
                    self.usage = event
                case providers.Done(finish_reason=reason):
                    self.finish_reason = reason or "stop"
                case providers.Error():
                    self.error = event
                    yield event

    def _said(self, text: str) -> providers.Content:
        self._content.append(text)
        return providers.Content(text)

    def cited(self) -> tuple[str, list[dict]]:
        """The answer with its markers normalised to [n], and the passages it cites. In
        retrieval-only mode every passage shown is a citation."""
        content, cited = citations.resolve("".join(self._content), self.passages)
        if self.request.config is None:
            cited = [citations.passage_citation(n, p) for n, p in enumerate(self.passages, start=1)]
        return content, cited
