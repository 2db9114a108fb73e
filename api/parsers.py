"""JSON bodies as every API endpoint reads them (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES)."""

import codecs
import io
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from chatsite.valid_text import Problem, text_problem

# A NUL or a lone surrogate can only arrive as an escape: JSON forbids a raw NUL in a string, and a
# raw surrogate is not UTF-8. Surrogate pairs (an emoji sent as \ud83d\ude00) match too.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 what failed as a 500 further in: nesting deep enough to
    exhaust Python's recursion limit, and text holding NUL characters or lone surrogates (see
    chatsite/valid_text.py)."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON is nested too deeply."), code="too_deep") from None
        # Walking a large body costs several times parsing it: only when an escape is suspect. In
        # UTF-8 the escapes are these very bytes; a body in another charset is always walked.
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        suspect = codecs.lookup(encoding).name != "utf-8" or _SUSPECT_ESCAPE.search(body)
        if suspect and (problem := json_problem(data)):
            raise ParseError(problem.message, code=problem.code)
        return data


def json_problem(data: object) -> Problem | None:
    """The first key or string in `data` that is not valid text, named by its dotted path."""
    pending: list[tuple[object, str]] = [(data, "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            where = f"“{path}”" if path else _("The body")
            if problem := text_problem(value, where=where, param=path or None):
                return problem
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if problem := text_problem(key, where=_("A field name")):
                    return problem
                pending.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            numbered = reversed(list(enumerate(value)))
            pending.extend((item, f"{path}.{n}" if path else str(n)) for n, item in numbered)
    return None
