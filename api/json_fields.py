"""Serializer fields that take a JSON value only of their own type, as OpenAI's API does.

DRF's fields are lenient for HTML forms: its IntegerField reads "5" and 5.0, its FloatField "0.7",
its BooleanField "yes", 1 and "on". A JSON API that says "an integer" refuses those with a 400,
which tells a client its request is not what it meant.
"""

from typing import TypeGuard

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def _is_number(data: object) -> TypeGuard[int | float]:
    return isinstance(data, int | float) and not isinstance(data, bool)  # True is an int in Python


class JSONIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: object) -> int:
        if not _is_number(data) or isinstance(data, float):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONNumberField(serializers.FloatField):
    def to_internal_value(self, data: object) -> float:
        if not _is_number(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "nullable": True,
    }
)
class StringOrListField(serializers.Field):
    """A string, or a list of at most `max_items` strings (OpenAI's `stop`), read as a list."""

    default_error_messages = {
        "invalid": _("Must be a string or a list of strings."),
        "max_items": _("Give at most {max_items} strings."),
    }

    def __init__(self, *, max_items: int, **kwargs) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> list[str]:
        strings = [data] if isinstance(data, str) else data
        if not isinstance(strings, list) or not all(isinstance(item, str) for item in strings):
            self.fail("invalid")
        if len(strings) > self.max_items:
            self.fail("max_items", max_items=self.max_items)
        return strings

    def to_representation(self, value: list[str]) -> list[str]:
        return value
