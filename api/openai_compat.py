"""The OpenAI-compatible endpoint (/v1): code written for DeepSeek's API, pointed at this server,
gets grounded and cited answers.

Each readable knowledge base is a model named `kb:<slug>`; `kb:<slug>@<model>` picks the language
model (by its upstream id or its name); when a fallback of that model answers, the response's `model`
names it so. Errors use OpenAI's error object and status codes.
"""

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from django.http import HttpResponseBase, StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import openai_format
from api.async_views import AsyncAPIView, Handled
from api.errors import ApiError, api_exception, drf_response
from api.key_watch import revocation_check
from chat import engine, llm, providers
from chatsite import draining, metrics
from knowledge.models import KnowledgeBase
from policy import screening
from usage import quotas

logger = logging.getLogger(__name__)
MODEL_PREFIX = "kb:"


def openai_exception_handler(exc: Exception, context: dict) -> Response:
    exc = api_exception(exc)
    response = drf_response(exc, context)
    response.data = openai_format.api_error_object(exc)
    return response


class _OpenAIView:
    def get_exception_handler(self):
        return openai_exception_handler


def _model_object(kb: KnowledgeBase, name: str) -> dict:
    return {
        "id": name,
        "object": "model",
        "created": int(kb.created_at.timestamp()),
        "owned_by": "knowledge-chat",
        "name": kb.name,
    }


@extend_schema(tags=["OpenAI-compatible"], responses={200: openai_format.ModelListSerializer})
class ModelList(_OpenAIView, APIView):
    """The models this key may use: one per knowledge base you may read, named kb:<slug>."""

    @extend_schema(operation_id="models_list")  # not "retrieve": that is the one model's below
    def get(self, request: Request) -> Response:
        readable = KnowledgeBase.objects.readable_by(request.user)
        data = [_model_object(kb, f"{MODEL_PREFIX}{kb.slug}") for kb in readable]
        return Response({"object": "list", "data": data})


@extend_schema(tags=["OpenAI-compatible"], responses={200: openai_format.ModelSerializer})
class ModelDetail(_OpenAIView, APIView):
    """One model: kb:<slug> for a knowledge base you may read, or kb:<slug>@<model>."""

    def get(self, request: Request, model: str) -> Response:
        kb, _config = _resolve_model(request.user, model)
        return Response(_model_object(kb, model))


def _model_not_found(name: str) -> ApiError:
    message = _("The model “%(name)s” does not exist or you do not have access to it.") % {"name": name}
    return ApiError(message, code="model_not_found", status_code=status.HTTP_404_NOT_FOUND)


def _resolve_model(user, name: str) -> tuple[KnowledgeBase, providers.ModelConfig | None]:
    """The knowledge base and language model a model name stands for, if the user may read it."""
    slug, _at, wanted = name.removeprefix(MODEL_PREFIX).partition("@")
    kb = None
    if name.startswith(MODEL_PREFIX):
        kb = KnowledgeBase.objects.readable_by(user).filter(slug=slug).first()
    if kb is None:
        raise _model_not_found(name)
    if not wanted:
        return kb, llm.model_config()
    config = llm.model_named(wanted)
    if config is None:
        raise _model_not_found(name)
    return kb, config


def _question(
    user, kb: KnowledgeBase, config: providers.ModelConfig | None, messages: list[dict]
) -> engine.Question:
    """The client sends the whole conversation: its last user message is the question, the turns
    before it the history (what was said only: reasoning is never sent back), and its system
    messages are kept beside ours."""
    instructions = [m["content"] for m in messages if m["role"] in openai_format.INSTRUCTION_ROLES]
    turns = [
        {"role": m["role"], "content": m["content"]}
        for m in messages
        if m["role"] not in openai_format.INSTRUCTION_ROLES
    ]
    return engine.Question(
        text=turns[-1]["content"],
        knowledge_bases=[kb],
        history=turns[:-1],
        config=config,
        client_instructions=[text for text in instructions if text.strip()],
        # A program asked for the model's answer: an error it can handle, not passages in its place.
        fall_back_to_passages=False,
        asker=user,
    )


@extend_schema(tags=["OpenAI-compatible"])
class ChatCompletions(_OpenAIView, AsyncAPIView):
    """Answer the last user message from the knowledge base named by `model`, in DeepSeek's shape."""

    throttle_scope = "answers"  # one answer budget with the chat page's (api/throttles.py)

    @extend_schema(
        request=openai_format.ChatCompletionRequestSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A chat.completion: choices[0].message has content, reasoning_content and "
                "citations; usage; citations.",
            ),
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With stream=true: chat.completion.chunk objects as `data:` lines "
                "(delta.reasoning_content, then delta.content), the last with citations, a usage "
                "chunk when stream_options.include_usage, then `data: [DONE]`.",
            ),
        },
    )
    def post(self, request: Request) -> Handled:
        body = openai_format.ChatCompletionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        kb, config = _resolve_model(request.user, params["model"])
        question = _question(request.user, kb, config, params["messages"])
        # Stopped, like the chat page's answers, when a shutdown's grace period ends (chatsite/draining.py).
        answer = engine.Answer(question, stopped=draining.past_grace, revoked=revocation_check(request))
        return _respond(answer, params, request.user.is_staff, translation.get_language())


async def _respond(answer: engine.Answer, params: dict, staff: bool, language: str) -> HttpResponseBase:
    # Checked before a stream starts, so that a refusal has its status whether streamed or not: over a
    # quota 429 (as OpenAI's insufficient_quota), a question the content policy blocks 400.
    if (refused := await answer.refusal()) is not None:
        raise ApiError(refused.message, code=refused.code, status_code=_status_of(refused))
    if (await answer.checked_question()).blocked:
        translation.activate(language)
        raise _refused()
    if params["stream"]:
        include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
        watch = metrics.AnswerWatch(metrics.OPENAI)
        chunks = watch.relayed(_stream(answer, params["model"], include_usage, staff, language, watch))
        response = StreamingHttpResponse(chunks, content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    return await _complete(answer, params["model"], staff)


def _answering_model(requested: str, fallback: providers.ModelConfig) -> str:
    """The `model` a response reports when a fallback answered: kb:<slug>@<its name>."""
    return f"{requested.partition('@')[0]}@{fallback.name}"


def _refused() -> ApiError:
    notice = screening.question_blocked_notice()
    return ApiError(notice, code=engine.CONTENT_POLICY, status_code=status.HTTP_400_BAD_REQUEST)


def _for_caller(error: providers.Error, staff: bool) -> providers.Error:
    """The error as the caller sees it: administrators also get its technical detail."""
    return replace(error, message=engine.error_message(error, administrator=staff))


def _status_of(error: providers.Error) -> int:
    if error.code == quotas.QUOTA_EXCEEDED:
        return status.HTTP_429_TOO_MANY_REQUESTS
    if error.code == "internal":
        return status.HTTP_500_INTERNAL_SERVER_ERROR
    return status.HTTP_503_SERVICE_UNAVAILABLE if error.retryable else status.HTTP_502_BAD_GATEWAY


async def _complete(answer: engine.Answer, model: str, staff: bool) -> Response:
    async with aclosing(answer.events()) as events:
        async for _event in events:
            pass  # the outcome says it all
    outcome = answer.outcome()
    if outcome.error is not None and outcome.error.code == engine.KEY_REVOKED:
        raise exceptions.AuthenticationFailed(outcome.error.message)
    if outcome.error is not None and outcome.error.code == engine.CONTENT_POLICY:
        raise _refused()
    if outcome.error is not None:
        error = _for_caller(outcome.error, staff)
        raise ApiError(error.message, code=error.code, status_code=_status_of(error))
    message = {
        "role": "assistant",
        "content": outcome.content,
        "reasoning_content": outcome.reasoning or None,
        "citations": outcome.citations,
    }
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": outcome.finish_reason}
    if outcome.fallback_for and outcome.model is not None:
        model = _answering_model(model, outcome.model)
    completion = openai_format.envelope(model, "chat.completion") | {
        "choices": [choice],
        "usage": openai_format.usage_body(outcome.usage),
        "citations": outcome.citations,
    }
    return Response(completion)


async def _stream(
    answer: engine.Answer,
    model: str,
    include_usage: bool,
    staff: bool,
    language: str,
    watch: metrics.AnswerWatch,
) -> AsyncGenerator[bytes, None]:
    """The answer as chat.completion.chunk objects. A distill's untagged text is held back until a
    closing tag shows it was reasoning, or the reply ends without one and it is the answer: each
    piece reaches the client once, in the field the non-streaming reply would give it."""
    translation.activate(language)
    head = openai_format.envelope(model, "chat.completion.chunk")
    yield openai_format.sse_data(
        openai_format.chunk(head, {"role": "assistant", "content": None, "reasoning_content": ""})
    )
    held: list[str] = []
    async with aclosing(answer.events()) as events:
        async for event in events:
            match event:
                case providers.Reasoning(text=text, tentative=True):
                    held.append(text)
                    continue
                case providers.Reasoning(text=text):
                    delta = {"content": None, "reasoning_content": "".join(held) + text}
                case providers.Content(text=text, replaces_reasoning=True):
                    delta = {"content": text, "reasoning_content": None}
                case providers.Content(text=text):
                    if held:  # the closing tag came: what was held back was reasoning
                        reasoning = {"content": None, "reasoning_content": "".join(held)}
                        yield openai_format.sse_data(openai_format.chunk(head, reasoning))
                    delta = {"content": text, "reasoning_content": None}
                case engine.FellBack(model=fallback):
                    head = head | {"model": _answering_model(model, fallback)}  # the chunks from here on
                    continue
                case engine.Withdrawn():
                    break  # the content policy stopped it: it ends with finish_reason "content_filter"
                case providers.Error():
                    # As DeepSeek does: an error object in the stream, and no [DONE].
                    error = openai_format.upstream_error_object(_for_caller(event, staff))
                    yield openai_format.sse_data(error)
                    return
                case _:
                    continue
            held.clear()
            watch.token_sent()
            yield openai_format.sse_data(openai_format.chunk(head, delta))
    outcome = answer.outcome()
    last = openai_format.chunk(head, {"content": "", "reasoning_content": None}, outcome.finish_reason)
    yield openai_format.sse_data(last | {"citations": outcome.citations})
    if include_usage:
        yield openai_format.sse_data(head | {"choices": [], "usage": openai_format.usage_body(outcome.usage)})
    yield openai_format.sse_data("[DONE]")
