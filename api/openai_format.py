"""The wire shapes of the OpenAI-compatible endpoint, as DeepSeek's API has them.

Responses carry `reasoning_content` beside `content` (DeepSeek's field for the reasoning chain) and
one extra field, `citations`: the passages the answer cites, numbered as its [n] markers.
"""

import json
import time
import uuid

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings

from api.json_fields import JSONBooleanField, JSONIntegerField, JSONNumberField, StringOrListField
from chat import engine, providers
from chat.answering import MAX_QUESTION_CHARS
from usage import quotas

ROLES = ("system", "developer", "user", "assistant")
INSTRUCTION_ROLES = ("system", "developer")
# Bounds on what a client sends, beside the chat's own on the question (MAX_QUESTION_CHARS): earlier
# turns beyond the model's context are dropped anyway, but a client's system messages all go
# upstream, and validating tens of thousands of messages held up the server for a second.
MAX_MESSAGES = 200
MAX_CONTENT_PARTS = 100
MAX_MESSAGE_CHARS = 32_000
MAX_TOTAL_CHARS = 200_000


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
                    "required": ["type", "text"],
                },
            },
        ],
        "nullable": True,
    }
)
class MessageContentField(serializers.Field):
    """A message's content: a string, or OpenAI's list of parts of which the text parts count."""

    def to_internal_value(self, data: object) -> str:
        text = self._text(data)
        if len(text) > MAX_MESSAGE_CHARS:
            message = _("A message may have at most %(max)d characters; this one has %(count)d.")
            raise serializers.ValidationError(message % {"max": MAX_MESSAGE_CHARS, "count": len(text)})
        return text

    def _text(self, data: object) -> str:
        if data is None:
            return ""
        if isinstance(data, str):
            return data
        if isinstance(data, list) and len(data) > MAX_CONTENT_PARTS:
            message = _("A message may have at most %(max)d content parts.")
            raise serializers.ValidationError(message % {"max": MAX_CONTENT_PARTS})
        if isinstance(data, list) and all(isinstance(part, dict) for part in data):
            if any(part.get("type") != "text" or not isinstance(part.get("text"), str) for part in data):
                raise serializers.ValidationError(_("Only text content parts are supported."))
            return "".join(part["text"] for part in data)
        raise serializers.ValidationError(_("Content must be a string or a list of text parts."))

    def to_representation(self, value: str) -> str:
        return value


class ChatMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = MessageContentField(allow_null=True)

    def validate_content(self, value: str | None) -> str:
        return value or ""  # assistant turns may have null content


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = JSONBooleanField(default=False)


def _optional(field: type[serializers.Field], **options) -> serializers.Field:
    return field(required=False, allow_null=True, **options)


class ChatCompletionRequestSerializer(serializers.Serializer):
    """OpenAI's sampling and length parameters are checked against OpenAI's documented ranges, so a
    client's mistake is a 400 naming it, and are otherwise ignored: the knowledge base's model
    settings apply. Parameters not named here are ignored."""

    model = serializers.CharField(
        max_length=200, help_text=_("kb:<slug>, or kb:<slug>@<model> to pick the language model.")
    )
    # The count is checked before any message is read.
    messages = ChatMessageSerializer(  # type: ignore[call-arg]  # the stubs miss many=True's max_length
        many=True,
        allow_empty=False,
        max_length=MAX_MESSAGES,
        error_messages={"max_length": _("Send at most {max_length} messages.")},
    )
    stream = JSONBooleanField(default=False, allow_null=True)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    max_tokens = _optional(JSONIntegerField, min_value=1)
    max_completion_tokens = _optional(JSONIntegerField, min_value=1)
    n = _optional(  # one choice is all we give
        JSONIntegerField,
        min_value=1,
        max_value=1,
        error_messages={"max_value": _("Only one choice is given: n must be 1.")},
    )
    temperature = _optional(JSONNumberField, min_value=0, max_value=2)
    top_p = _optional(JSONNumberField, min_value=0, max_value=1)
    presence_penalty = _optional(JSONNumberField, min_value=-2, max_value=2)
    frequency_penalty = _optional(JSONNumberField, min_value=-2, max_value=2)
    # OpenAI allows 4 stop sequences, DeepSeek 16: code written for DeepSeek's API must keep working.
    stop = StringOrListField(required=False, allow_null=True, max_items=16)
    seed = _optional(JSONIntegerField)
    logprobs = _optional(JSONBooleanField)
    top_logprobs = _optional(JSONIntegerField, min_value=0, max_value=20)

    def validate_messages(self, messages: list[dict]) -> list[dict]:
        said = [position for position, m in enumerate(messages) if m["role"] not in INSTRUCTION_ROLES]
        question = messages[said[-1]] if said else None
        if question is None or question["role"] != "user" or not question["content"].strip():
            raise serializers.ValidationError(_("The last message must be the user's question."))
        if len(question["content"]) > MAX_QUESTION_CHARS:
            message = _("The question may have at most %(max)d characters; this one has %(count)d.") % {
                "max": MAX_QUESTION_CHARS,
                "count": len(question["content"]),
            }
            raise serializers.ValidationError({str(said[-1]): {"content": [message]}})
        total = sum(len(m["content"]) for m in messages)
        if total > MAX_TOTAL_CHARS:
            message = _("The messages may have at most %(max)d characters in all; these have %(count)d.") % {
                "max": MAX_TOTAL_CHARS,
                "count": total,
            }
            raise serializers.ValidationError(message)
        return messages


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()
    name = serializers.CharField(help_text=_("The knowledge base's name."))


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    # The serializer's metaclass moves declared fields off the class: Serializer.data stays as it is.
    data = ModelSerializer(many=True)  # type: ignore[assignment]


def envelope(model: str, kind: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }


def chunk(head: dict, delta: dict, finish_reason: str | None = None) -> dict:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return head | {"choices": [choice], "usage": None}


# json.dumps with options builds a new encoder on every call: once per token of every stream.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def sse_data(payload: dict | str) -> bytes:
    text = payload if isinstance(payload, str) else _ENCODE(payload)
    return f"data: {text}\n\n".encode()


def usage_body(usage: providers.Usage | None) -> dict:
    """DeepSeek's usage object; zeros when no model was called (retrieval-only, nothing found)."""
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    body: dict = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.cache_hit_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cache_hit_tokens}
        body["prompt_cache_hit_tokens"] = usage.cache_hit_tokens
    if usage.cache_miss_tokens is not None:
        body["prompt_cache_miss_tokens"] = usage.cache_miss_tokens
    if usage.reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return body


def error_object(message: str, *, kind: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


_ERROR_KINDS: dict[type[exceptions.APIException], tuple[str, str | None]] = {
    exceptions.NotAuthenticated: ("invalid_request_error", "invalid_api_key"),
    exceptions.AuthenticationFailed: ("invalid_request_error", "invalid_api_key"),
    exceptions.PermissionDenied: ("permission_error", None),
    exceptions.NotFound: ("invalid_request_error", "not_found"),
    exceptions.Throttled: ("rate_limit_error", "rate_limit_exceeded"),
    exceptions.ValidationError: ("invalid_request_error", None),
    exceptions.ParseError: ("invalid_request_error", None),
}


def api_error_object(exc: exceptions.APIException) -> dict:
    """OpenAI's error object for an API exception (see api.errors for the REST API's)."""
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_problem(exc.detail)
        return error_object(message, kind="invalid_request_error", param=param)
    kind, code = next(
        (value for cls, value in _ERROR_KINDS.items() if isinstance(exc, cls)),
        ("server_error" if exc.status_code >= 500 else "invalid_request_error", None),
    )
    own_code = exc.get_codes()
    if isinstance(own_code, str) and own_code != exc.default_code:
        code = own_code  # raised with a code of ours, e.g. model_not_found
    if code == quotas.QUOTA_EXCEEDED:
        kind = code  # as OpenAI says a spent quota: type and code insufficient_quota
    return error_object(str(exc.detail), kind=kind, code=code)


def _first_problem(detail: object, path: str = "") -> tuple[str | None, str]:
    """The first field (dotted path) and message of a validation error."""
    if isinstance(detail, dict) and detail:
        name, inner = next(iter(detail.items()))
        if name == api_settings.NON_FIELD_ERRORS_KEY:
            return _first_problem(inner, path)
        return _first_problem(inner, f"{path}.{name}" if path else str(name))
    if isinstance(detail, list) and detail:
        first = next((item for item in detail if item), detail[0])
        return _first_problem(first, path)
    return (path or None), str(detail)


def upstream_error_object(error: providers.Error) -> dict:
    """The error object that ends a stream: the model failed, or the key was revoked meanwhile."""
    kind = "invalid_request_error" if error.code == engine.KEY_REVOKED else "server_error"
    return error_object(error.message, kind=kind, code=error.code)
