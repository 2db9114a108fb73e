"""Bad input is a 400 that names the problem, never a 500 or a page that says only "Bad Request".

One JSON shape serves every client of ours: the chat page reads `error.message`, the REST API's
clients `error.code` and `error.message`, and OpenAI's SDKs find OpenAI's error object (`type` and
`param` as well), so a refusal made before the request reaches a view suits every endpoint.
"""

from django.core.exceptions import BadRequest
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

MAX_ID = 2**63 - 1  # the largest id the database's id columns hold


def is_id(value: str) -> bool:
    """Whether a form field or query parameter holds a row id: `"²".isdigit()` is true, and a number
    too large for the column fails in the database."""
    return len(value) <= len(str(MAX_ID)) and value.isascii() and value.isdigit() and int(value) <= MAX_ID


def parse_id(value: str, field: str) -> int:
    """The id a form field or query parameter gives; a 400 naming the field when it is not an id."""
    if is_id(value):
        return int(value)
    raise BadRequest(_("“%(field)s” is not a valid id.") % {"field": field})


def bad_request(message: str, *, code: str = "invalid", param: str | None = None) -> JsonResponse:
    error = {"code": code, "message": message, "type": "invalid_request_error", "param": param}
    return JsonResponse({"error": error}, status=400)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 400 view. A view raises `BadRequest(_("…"))` as it raises Http404, and its message is
    shown; other causes (a host not allowed, a body over the size limit) keep their details to the log."""
    if isinstance(exception, BadRequest) and exception.args:
        return bad_request(str(exception))
    return bad_request(_("The request is not valid."))
