"""What drf-spectacular needs to know beyond the views: how API keys are sent."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the “API keys” page, or `manage.py create_api_key`.",
        }


_ERRORS = {
    "400": "The request is not valid; the error names the fields.",
    "401": "No valid API key or session.",
    "403": "You may read this, but not change it.",
    "404": "Not found, or not yours to see.",
    "429": "Too many requests; the Retry-After header says how many seconds to wait.",
}
_ERROR_SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "Stable, for programs."},
                    "message": {"type": "string", "description": "For people."},
                    "fields": {"type": "object", "description": "Each invalid field's messages."},
                },
                "required": ["code", "message"],
            }
        },
        "required": ["error"],
    },
    "OpenAIError": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True},
                    "code": {"type": "string", "nullable": True},
                },
                "required": ["message", "type", "param", "code"],
            }
        },
        "required": ["error"],
    },
}


def document_errors(result: dict, generator, request, public: bool) -> dict:
    """A postprocessing hook: the error responses every operation can give, in its error shape
    (OpenAI's under /v1/, ours elsewhere), unless the view documents that status itself. A 400 that
    a view documents in a shape of its own (an upload's report) can still be an error: input that
    is refused before the view (chatsite/valid_text.py) or by its serializer."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(_ERROR_SCHEMAS)
    for path, operations in result["paths"].items():
        error = {"$ref": f"#/components/schemas/{'OpenAIError' if path.startswith('/v1/') else 'Error'}"}
        content = {"application/json": {"schema": error}}
        for operation in operations.values():
            for status, description in _ERRORS.items():
                operation["responses"].setdefault(status, {"description": description, "content": content})
            own = operation["responses"]["400"].get("content", {}).get("application/json", {})
            if own.get("schema", error) != error:
                own["schema"] = {"oneOf": [own["schema"], error]}
    return result


def document_path_ids(result: dict, generator, request, public: bool) -> dict:
    """A postprocessing hook: ids in paths are digits (Django's int converter), so never negative;
    a negative one does not reach the API at all."""
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"]["minimum"] = 0
    return result
