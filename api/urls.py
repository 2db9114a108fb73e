from django.contrib.auth.decorators import login_required
from django.urls import path, register_converter
from django.urls.converters import PathConverter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import (
    conversation_views,
    faq_views,
    knowledge_views,
    openai_compat,
    pages,
    share_views,
    source_views,
)
from chatsite.content_security import policy, with_policy

# Swagger UI with its start-up script served from the same address (?script) rather than inline, for
# the CSP; it draws its icons as data: images, which only this page allows.
api_docs = with_policy(policy(img_src="'self' data:"))(
    SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html")
)


class ModelNameConverter(PathConverter):
    """Any text after /v1/models/, slashes (vLLM's "org/model") and line breaks too: a name that is
    no model is the view's 404 in OpenAI's shape, not a page."""

    regex = r"[\s\S]+"


register_converter(ModelNameConverter, "model_name")

app_name = "api"
urlpatterns = [
    path("account/api-keys/", pages.api_keys, name="keys"),
    path("account/api-keys/<int:key_id>/revoke/", pages.api_key_revoke_view, name="key_revoke"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page for people: the login page first, rather than a 401.
    path("api/docs/", login_required(api_docs), name="docs"),
    path("api/v1/knowledge-bases/", knowledge_views.KnowledgeBaseList.as_view(), name="knowledge_bases"),
    path(
        "api/v1/knowledge-bases/<str:slug>/",
        knowledge_views.KnowledgeBaseDetail.as_view(),
        name="knowledge_base",
    ),
    path(
        "api/v1/knowledge-bases/<str:slug>/documents/",
        knowledge_views.DocumentList.as_view(),
        name="documents",
    ),
    path("api/v1/knowledge-bases/<str:slug>/faq/", faq_views.FaqPairList.as_view(), name="faq_pairs"),
    path("api/v1/knowledge-bases/<str:slug>/faq/import/", faq_views.FaqImport.as_view(), name="faq_import"),
    path("api/v1/faq/<int:pair_id>/", faq_views.FaqPairDetail.as_view(), name="faq_pair"),
    path("api/v1/knowledge-bases/<str:slug>/search/", knowledge_views.Search.as_view(), name="search"),
    path("api/v1/documents/<int:document_id>/", knowledge_views.DocumentDetail.as_view(), name="document"),
    path(
        "api/v1/documents/<int:document_id>/reindex/",
        knowledge_views.DocumentReindex.as_view(),
        name="document_reindex",
    ),
    path("api/v1/knowledge-bases/<str:slug>/sources/", source_views.SourceList.as_view(), name="sources"),
    path("api/v1/sources/<int:source_id>/", source_views.SourceDetail.as_view(), name="source"),
    path("api/v1/sources/<int:source_id>/sync/", source_views.SourceSync.as_view(), name="source_sync"),
    path("api/v1/sources/<int:source_id>/syncs/", source_views.SyncRunList.as_view(), name="source_syncs"),
    path("api/v1/conversations/", conversation_views.ConversationList.as_view(), name="conversations"),
    path(
        "api/v1/conversations/<int:conversation_id>/",
        conversation_views.ConversationDetail.as_view(),
        name="conversation",
    ),
    path(
        "api/v1/conversations/<int:conversation_id>/ask/",
        conversation_views.ConversationAsk.as_view(),
        name="ask",
    ),
    path(
        "api/v1/conversations/<int:conversation_id>/export/",
        share_views.ConversationExport.as_view(),
        name="conversation_export",
    ),
    path(
        "api/v1/conversations/<int:conversation_id>/shares/",
        share_views.ConversationShares.as_view(),
        name="conversation_shares",
    ),
    path("api/v1/shares/<int:share_id>/", share_views.ShareRevoke.as_view(), name="share"),
    path("v1/models", openai_compat.ModelList.as_view(), name="openai_models"),
    path("v1/models/<model_name:model>", openai_compat.ModelDetail.as_view(), name="openai_model"),
    path("v1/chat/completions", openai_compat.ChatCompletions.as_view(), name="openai_chat_completions"),
]
