"""Schemathesis generates requests from /api/schema/ for every operation and sends them to the app
under uvicorn, as a manager who reads a knowledge base and owns a conversation: no request may
cause a server error, and every response must be documented (status, content type, body)."""

import pytest
import schemathesis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chat.models import Conversation
from tests.api_fixtures import key_for
from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server, use_data_dir

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]


@pytest.fixture(scope="module")
def fuzzed_app(django_db_setup, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzzed-app")
    env = {
        "LLM_BASE_URL": _shared_fake_llm().base_url,
        "LLM_API_KEY": "sk-test",
        # Generated requests arrive far faster than any integration's; limits are tested elsewhere.
        "API_RATE_PER_KEY": "100000/min",
        "API_RATE_PER_USER": "100000/min",
    }
    with asgi_server(data_dir, log=data_dir / "server.log", **env) as url:
        yield url, data_dir


@pytest.fixture
def fuzz_headers(fuzzed_app, settings, manager, kb) -> dict[str, str]:
    use_data_dir(settings, fuzzed_app[1])
    Conversation.objects.create(user=manager, title="对话").knowledge_bases.set([kb])
    return {"Authorization": f"Bearer {key_for(manager)}"}


def test_no_request_causes_a_server_error(fuzzed_app, fuzz_headers, subtests):
    # The Python API rather than schemathesis.pytest.from_fixture, whose lazy loading does not
    # work with pytest 9; each operation is its own subtest.
    schema = schemathesis.openapi.from_url(f"{fuzzed_app[0]}/api/schema/", headers=fuzz_headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case) -> None:
            case.call_and_validate(
                base_url=fuzzed_app[0],
                headers=fuzz_headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
                timeout=60,
            )

        with subtests.test(operation=f"{operation.method.upper()} {operation.path}"):
            no_server_error()


def test_the_schema_and_docs_need_a_login(client, user: User):
    assert client.get("/api/schema/").status_code == 401
    assert "/accounts/login/" in client.get("/api/docs/")["Location"]
    client.force_login(user)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content  # served here, no CDN
    assert b"/v1/chat/completions" in client.get("/api/schema/").content
