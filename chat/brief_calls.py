"""Short calls to a language model beside the answer: translating a question for search, suggesting
follow-up questions. Each is one small request to the task model (`chat.llm.task_model`) whose
reply is a few words or lines.

Never the reasoning of anything: callers send only what was said and the passages, and of the reply
only the content is kept; a reasoning model's reasoning is dropped, never shown, stored or sent on.
A call that fails, times out or comes back empty returns None: the feature it serves is skipped, and
the answer goes on without it.
"""

import asyncio
import logging
from contextlib import aclosing
from dataclasses import replace

from chat import llm, providers
from chat.model_config import ModelConfig

logger = logging.getLogger(__name__)

# The longest a short task waits for its whole reply: it runs before an answer or beside one.
TIMEOUT_SECONDS = 20.0
# Room for the reply. A reasoning model's reasoning counts against it too, so it gets more.
REPLY_TOKENS = 256
REASONING_REPLY_TOKENS = 2048


def messages_for(config: ModelConfig, instructions: str, text: str) -> list[dict[str, str]]:
    """The instructions as a system message, or inside the user turn for models that want that."""
    if config.system_messages:
        return [{"role": "system", "content": instructions}, {"role": "user", "content": text}]
    return [{"role": "user", "content": f"{instructions}\n\n{text}"}]


async def brief_reply(
    instructions: str,
    text: str,
    *,
    config: ModelConfig | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> str | None:
    """The content of the model's reply to `text` under `instructions`, stripped; None when there is
    no model, or the call fails, takes longer than `timeout` seconds or says nothing."""
    config = config or llm.task_model()
    if config is None:
        return None
    reply_tokens = REASONING_REPLY_TOKENS if config.reasoning else REPLY_TOKENS
    config = replace(
        config,
        answer_tokens=min(reply_tokens, config.context_tokens // 2),
        retries=0,  # a short task is skipped rather than waited for
        timeout=min(config.timeout, timeout),
    )
    content: list[str] = []
    try:
        stream = providers.stream_chat(config, messages_for(config, instructions, text))
        async with asyncio.timeout(timeout), aclosing(stream):
            async for event in stream:
                match event:
                    case providers.Content(text=piece, replaces_reasoning=True):
                        content[:] = [piece]
                    case providers.Content(text=piece):
                        content.append(piece)
                    case providers.Error(code=code, detail=detail):
                        logger.warning("A short call to %s failed (%s): %s", config.name, code, detail)
                        return None
    except TimeoutError:
        logger.warning("A short call to %s took longer than %s s", config.name, timeout)
        return None
    return "".join(content).strip() or None
