"""Bad input is a 400 that names the problem, never a 500 or a page that says only "Bad Request".

One JSON shape serves every client of ours: the chat page reads `error.message`, the REST API's
clients `error.code` and `error.message`, and OpenAI's SDKs find OpenAI's error object (`type` and
`param` as well), so a refusal made before the request reaches a view suits every endpoint.
"""

from django.http import JsonResponse


def bad_request(message: str, *, code: str = "invalid", param: str | None = None) -> JsonResponse:
    error = {"code": code, "message": message, "type": "invalid_request_error", "param": param}
    return JsonResponse({"error": error}, status=400)
