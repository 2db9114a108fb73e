"""A scripted language model, standing in for chat.providers.stream_chat above the HTTP client."""

import asyncio
from collections.abc import AsyncGenerator

from chat import providers

UNREACHABLE = providers.Error(
    "unreachable",
    "The language model could not be reached. Please try again later.",
    retryable=True,
    detail="Could not connect to http://gpu-7.internal:11434/v1 (connection refused)",
)


class ScriptedModel:
    """A model that streams the events it was given, and notes the prompts it was sent."""

    def __init__(self, *events: providers.Event) -> None:
        self.events = events
        self.prompts: list[list[dict[str, str]]] = []
        self.closed = False

    async def __call__(
        self, config: providers.ModelConfig, messages: list[dict[str, str]]
    ) -> AsyncGenerator[providers.Event, None]:
        self.prompts.append(messages)
        try:
            for event in self.events:
                await asyncio.sleep(0)
                yield event
        finally:
            self.closed = True
