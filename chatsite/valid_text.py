"""Text the layers below cannot take is refused where requests come in, for every endpoint at once.

PostgreSQL refuses a NUL character in text (a 500 for whoever sent one; SQLite stored it), and a
lone surrogate (half of a character, e.g. the JSON escape \\ud800) cannot be encoded at all: the
embedding model's tokenizer failed on it, and with it the questions of everyone else embedded in the
same batch. Neither belongs in a question, a title or a search.

`ValidTextMiddleware` checks the path, the query string and form fields (names and values, not the
contents of uploaded files: those are documents, read by extraction). JSON bodies are checked by the
API's parser as it parses them (api/parsers.py).
"""

import re
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from chatsite.bad_requests import bad_request
from chatsite.middleware import DualModeMiddleware

_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
_FORMS = {"multipart/form-data", "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Problem:
    message: str
    param: str | None = None  # the field it is in, when it is in one
    code: str = "invalid_text"


def text_problem(value: str, *, where: str, param: str | None = None) -> Problem | None:
    """What is wrong with `value` (found `where`, e.g. “title”), or None when it is fine."""
    found = _NOT_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        message = _("%(where)s contains a NUL character, which is not allowed.")
    else:
        message = _("%(where)s is not valid Unicode: it contains half of a character (U+%(code)04X).")
    return Problem(message % {"where": where, "code": ord(found.group())}, param)


def fields_problem(fields: QueryDict) -> Problem | None:
    for name, values in fields.lists():
        problem = text_problem(name, where=_("A field name"))
        for value in values:
            problem = problem or text_problem(value, where=f"“{name}”", param=name)
        if problem:
            return problem
    return None


def _address_problem(request: HttpRequest) -> Problem | None:
    return text_problem(request.path_info, where=_("The address")) or fields_problem(request.GET)


def _has_form(request: HttpRequest) -> bool:
    return request.method == "POST" and request.content_type in _FORMS  # what Django parses


def _form_problem(request: HttpRequest) -> Problem | None:
    try:
        return fields_problem(request.POST)
    except MultiPartParserError:
        return Problem(_("The form data could not be read."), code="invalid_form")


def _refusal(problem: Problem) -> HttpResponseBase:
    return bad_request(problem.message, code=problem.code, param=problem.param)


class ValidTextMiddleware(DualModeMiddleware):
    """A 400 naming the field, for a request whose path, query string or form holds such text.

    On the async path the address is checked on the event loop (microseconds), and a form is
    parsed in the request's own thread: parsing costs about 0.5 ms for a question and may write
    uploads to disk. A form is parsed once, here; the CSRF check and the view read the result. It
    is parsed before the request is authenticated, as the CSRF check already parsed every form
    posted with a session; an API upload's body has been read whole by the server before that too.
    """

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        problem = _address_problem(request) or (_form_problem(request) if _has_form(request) else None)
        return _refusal(problem) if problem else self.get_response(request)

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        problem = _address_problem(request)
        if problem is None and _has_form(request):
            problem = await sync_to_async(_form_problem)(request)
        return _refusal(problem) if problem else await self.get_response(request)
