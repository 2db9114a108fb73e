"""Every page carries the strict Content Security Policy; originals keep their sandbox."""

import pytest
from django.urls import reverse

from chatsite.content_security import POLICY, policy
from tests.sse import sse_events
from tests.test_document_download import PAGE, download, upload


def test_the_policy_allows_only_our_own_scripts_and_styles():
    directives = dict(directive.split(" ", 1) for directive in POLICY.split("; "))
    assert directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["object-src"] == directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == directives["form-action"] == "'self'"
    assert "unsafe" not in POLICY and "data:" not in POLICY


def test_it_sets_the_policy_on_the_login_page_for_anyone(client):
    assert client.get(reverse("login"))["Content-Security-Policy"] == POLICY


@pytest.mark.parametrize(
    "url",
    [
        reverse("chat:home"),
        reverse("api:keys"),
        reverse("knowledge:hit_testing", args=["guide"]),
        reverse("admin:index"),
        reverse("admin:knowledge_knowledgebase_add"),
        reverse("admin:knowledge_document_changelist"),
    ],
)
def test_it_sets_the_policy_on_pages(admin_client, kb, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == POLICY


@pytest.mark.parametrize("url", [reverse("api:docs"), reverse("api:docs") + "?script"])
def test_the_api_docs_also_allow_data_images_for_swagger_uis_icons(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == policy(img_src="'self' data:")
    assert "data:" in response["Content-Security-Policy"]


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_it_sets_the_policy_on_the_async_answer_stream(async_client, user, kb, sync_orm_in_async):
    await async_client.aforce_login(user)
    response = await async_client.post(
        reverse("chat:ask"), {"question": "Vacation?", "knowledge_base": kb.id}
    )
    assert response["Content-Security-Policy"] == POLICY
    assert (await sse_events(response))[-1][0] == "done"


def test_an_original_keeps_its_own_sandbox(client, user, kb):
    client.force_login(user)
    assert download(client, upload(kb, "page.html", PAGE))["Content-Security-Policy"].startswith("sandbox;")
