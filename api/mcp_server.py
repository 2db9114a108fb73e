"""The MCP server at /mcp: the official `mcp` SDK's low-level server over streamable HTTP, with the
tools `list_knowledge_bases`, `search` and `ask` (api/mcp_tools.py) and resources for passages and
originals (api/mcp_resources.py), for the user of the request's API key (api/mcp_auth.py).

Stateless, with JSON replies: each HTTP request is served whole by the process it reaches, so the
app's several processes behind a load balancer need no shared session state. The SDK's own Host and
Origin checks are off: mcp_auth checks the Host against Django's ALLOWED_HOSTS with Django's own
rules, and no browser page can send the API key a request needs.

The low-level server rather than the SDK's decorators: resource listings and contents depend on
who asks (only what the user may read, each original with its own type), which the decorated
resources cannot say. Tool arguments are pydantic models, their JSON schema what tools/list shows.
"""

import base64
import json
from typing import Annotated, Any, TypeVar, cast

from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    BlobResourceContents,
    CallToolRequestParams,
    CallToolResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from api import mcp_resources, mcp_tools
from api.mcp_auth import api_key_of, authorised, language_of
from api.mcp_tools import MAX_KNOWLEDGE_BASES, ToolRefused
from chat.answering import MAX_QUESTION_CHARS
from chatsite.db_threads import in_pool
from chatsite.lifespan import ASGIApp, Receive, Scope, Send
from knowledge.views import MAX_QUERY_CHARS, MAX_TOP_K

PATH = "/mcp"
Slug = Annotated[str, Field(min_length=1, max_length=100)]
KnowledgeBases = Annotated[
    list[Slug],
    Field(
        default_factory=list,
        max_length=MAX_KNOWLEDGE_BASES,
        description="Slugs from list_knowledge_bases; empty or left out: every knowledge base you may read.",
    ),
]


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


Arguments = TypeVar("Arguments", bound=_Arguments)


class ListArguments(_Arguments):
    pass


class SearchArguments(_Arguments):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for.")
    knowledge_bases: KnowledgeBases
    top_k: int | None = Field(
        default=None, ge=1, le=MAX_TOP_K, description="Passages at most; default: the knowledge bases' own."
    )


class AskArguments(_Arguments):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    knowledge_bases: KnowledgeBases
    model: str | None = Field(
        default=None, max_length=200, description="A language model by name; default: the app's default."
    )
    include_reasoning: bool = Field(default=False, description="Also return the model's reasoning.")


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
TOOLS: dict[str, tuple[type[_Arguments], str]] = {
    "list_knowledge_bases": (
        ListArguments,
        "The knowledge bases you may read: slug, name and description.",
    ),
    "search": (
        SearchArguments,
        "Passages of the documents that match a query, best first, each with its document, location "
        "(page and heading), relevance (0-1), text and resource URIs.",
    ),
    "ask": (
        AskArguments,
        "A written answer from the documents, with numbered citations [n] (document, location, "
        "relevance, passage); with include_reasoning, the model's reasoning too.",
    ),
}
TEMPLATES = [
    ResourceTemplate(
        name="passage",
        uri_template="kbchat://passages/{chunk_id}",
        description="A passage found by search or cited by ask: its text, document and location.",
        mime_type="application/json",
    ),
    ResourceTemplate(
        name="original",
        uri_template="kbchat://documents/{document_id}/original",
        description="A document's original file, with its type (larger ones: where to download them).",
    ),
]


def _http(ctx: ServerRequestContext) -> Request:
    """The HTTP request the call came in (every call does here)."""
    assert ctx.request is not None
    return ctx.request


async def list_tools(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListToolsResult:
    return ListToolsResult(
        tools=[
            Tool(name=name, description=text, input_schema=model.model_json_schema(), annotations=READ_ONLY)
            for name, (model, text) in TOOLS.items()
        ]
    )


def _parsed(model: type[Arguments], arguments: dict[str, Any]) -> Arguments:
    """The arguments, or ToolRefused naming what is wrong with them."""
    try:
        return model.model_validate(arguments)
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '-'}: {error['msg']}"
            for error in invalid.errors()
        )
        raise ToolRefused(_("The arguments are not valid: %(problems)s") % {"problems": problems}) from None


async def _result_of(ctx: ServerRequestContext, params: CallToolRequestParams) -> dict:
    key = api_key_of(_http(ctx).scope)
    arguments = params.arguments or {}
    if params.name == "list_knowledge_bases":
        _parsed(ListArguments, arguments)
        return {"knowledge_bases": await in_pool(mcp_tools.knowledge_bases_of, user=key.user)}
    if params.name == "search":
        search = _parsed(SearchArguments, arguments)
        return await in_pool(mcp_tools.search_passages, user=key.user, **search.model_dump())
    if params.name == "ask":
        return await mcp_tools.ask(key=key, **_parsed(AskArguments, arguments).model_dump())
    raise ToolRefused(_("There is no tool “%(name)s”.") % {"name": params.name})


async def call_tool(ctx: ServerRequestContext, params: CallToolRequestParams) -> CallToolResult:
    with translation.override(language_of(_http(ctx).headers)):
        try:
            result = await _result_of(ctx, params)
        except ToolRefused as refused:
            return CallToolResult(content=[TextContent(type="text", text=str(refused))], is_error=True)
    text = json.dumps(result, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=result)


async def list_resource_templates(
    ctx: ServerRequestContext, params: PaginatedRequestParams | None
) -> ListResourceTemplatesResult:
    return ListResourceTemplatesResult(resource_templates=TEMPLATES)


async def list_resources(
    ctx: ServerRequestContext, params: PaginatedRequestParams | None
) -> ListResourcesResult:
    """The originals of the documents the user may read, a page at a time (the cursor: the last id)."""
    cursor = (params.cursor if params else None) or "0"
    if not cursor.isdigit() or len(cursor) > 18:
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor")
    user = api_key_of(_http(ctx).scope).user
    documents, last = await in_pool(mcp_resources.documents_page, user=user, after=int(cursor))
    resources = [
        Resource(
            uri=mcp_tools.original_uri(document.id),
            name=document.title,
            description=document.knowledge_base.name,
            mime_type=document.mime or None,
            size=document.size,
        )
        for document in documents
    ]
    return ListResourcesResult(resources=resources, next_cursor=None if last is None else str(last))


Contents = TextResourceContents | BlobResourceContents


async def _contents(ctx: ServerRequestContext, uri: str) -> Contents | None:
    user = api_key_of(_http(ctx).scope).user
    if found := mcp_resources.PASSAGE.fullmatch(uri):
        passage = await in_pool(mcp_resources.passage, user=user, chunk_id=int(found[1]))
        if passage is None:
            return None
        text = json.dumps(passage, ensure_ascii=False)
        return TextResourceContents(uri=uri, mime_type="application/json", text=text)
    if found := mcp_resources.ORIGINAL.fullmatch(uri):
        original = await in_pool(mcp_resources.original, user=user, document_id=int(found[1]))
        if original is None:
            return None
        if original.content is None:
            url = str(_http(ctx).base_url).rstrip("/") + original.download_path
            message = _("This original is %(size)s, too large to send here. Download it from %(url)s") % {
                "size": filesizeformat(original.document.size),
                "url": url,
            }
            return TextResourceContents(uri=uri, mime_type="text/plain", text=message)
        blob = base64.b64encode(original.content).decode()
        mime = original.document.mime or "application/octet-stream"
        return BlobResourceContents(uri=uri, mime_type=mime, blob=blob)
    return None


async def read_resource(ctx: ServerRequestContext, params: ReadResourceRequestParams) -> ReadResourceResult:
    """The passage or original, if the user may read it; "not found" otherwise, as for none at all."""
    with translation.override(language_of(_http(ctx).headers)):
        contents = await _contents(ctx, str(params.uri))
        if contents is None:
            message = _("There is no such resource, or you may not read it.")
            raise MCPError(code=INVALID_PARAMS, message=message, data={"uri": str(params.uri)})
    return ReadResourceResult(contents=[contents])


server: Server = Server(
    "knowledge-chat",
    instructions="Search and ask the company's knowledge bases; answers cite their passages as [n].",
    on_list_tools=list_tools,
    on_call_tool=call_tool,
    on_list_resources=list_resources,
    on_list_resource_templates=list_resource_templates,
    on_read_resource=read_resource,
)
sessions = StreamableHTTPSessionManager(
    app=server,
    stateless=True,
    json_response=True,
    security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
)


def mounted(app: ASGIApp) -> ASGIApp:
    """`app`, with the requests for /mcp (and below) going to the MCP server instead."""
    mcp = authorised(cast(ASGIApp, sessions.handle_request))

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PATH or path.startswith(PATH + "/")):
            await mcp(scope, receive, send)
        else:
            await app(scope, receive, send)

    return application
