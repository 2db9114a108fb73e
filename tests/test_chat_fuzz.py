"""Generated input for the chat page's own endpoints (test_api_schema.py fuzzes the REST API from its
schema): ids, strings and values with NUL, lone surrogates, huge and non-ASCII digits, as query
strings, URL-encoded and multipart forms, sent by another reader and by the owner. No request may
cause a server error, and the other reader never changes what the owner has."""

from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from api.models import ApiKey
from api.services import api_key_create
from chat.models import Conversation, Message
from knowledge import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]
# Values that broke views before, and values that pass some checks: ids, ratings, modes, a model.
TRICKY = ["0", "-1", "1.5", "²", "٣", "１", "9" * 30, str(2**63), "1\x00", "", " ", "\x00", "\ud800"]
TRICKY += ["a\udfffb", "\r\n", "上周的会议", "up", "down", "hybrid", "DeepSeek-R1", "https://evil.example/"]
BOUNDARY = "fuzzed-boundary"
EXAMPLES = hypothesis_settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@dataclass(frozen=True)
class Endpoint:
    url_name: str
    method: str
    fields: tuple[str, ...]
    target: str | None = None  # what the id in the path names


ENDPOINTS = [
    Endpoint("chat:ask", "POST", ("question", "knowledge_base", "conversation", "model")),
    Endpoint("chat:resend", "POST", ("question", "knowledge_base", "model"), "conversation"),
    Endpoint("chat:rename", "POST", ("title", "next"), "conversation"),
    Endpoint("chat:delete", "POST", ("next",), "conversation"),
    Endpoint("chat:feedback", "POST", ("rating", "feedback"), "message"),
    Endpoint("chat:preview", "POST", ("text",)),
    Endpoint("chat:stop", "POST", (), "message"),
    Endpoint("chat:show", "POST", (), "message"),
    Endpoint("chat:conversations", "GET", ("q", "current")),
    Endpoint("chat:conversation", "GET", ("q",), "conversation"),
    Endpoint("chat:home", "GET", ("q",)),
    Endpoint("knowledge:hit_testing", "GET", ("q", "mode", "top_k"), "slug"),
    Endpoint("knowledge:download", "GET", (), "document"),
    Endpoint("knowledge:passage", "GET", ("passage",), "document"),
    Endpoint("api:keys", "GET", ()),
    Endpoint("api:keys", "POST", ("name",)),
    Endpoint("api:key_revoke", "POST", (), "key"),
]


@pytest.fixture
def owned(settings, user, kb) -> dict[str, list]:
    """The owner's conversation, messages, document and API key: the ids in play."""
    settings.ANSWER_RATE_PER_USER = "0/min"  # valid questions are refused after every other check
    conversation = Conversation.objects.create(user=user, title="Leave")
    conversation.knowledge_bases.set([kb])
    question = Message.objects.create(conversation=conversation, role="user", content="How much leave?")
    answer = Message.objects.create(
        conversation=conversation, role="assistant", content="25 days.", reply_to=question
    )
    report = services.upload_files(
        knowledge_base=kb, files=[("leave.txt", ContentFile(b"Leave is 25 days."))], enqueue=False
    )
    return {
        "conversation": [conversation.id],
        "message": [question.id, answer.id],
        "document": [report.created[0].id],
        "key": [api_key_create(user=user, name="wiki bot")[0].id],
        "slug": [kb.slug],
        "knowledge_base": [kb.id],
    }


MESSAGE_FIELDS = ("id", "content", "rating", "feedback", "status")


def snapshot(user) -> list:
    return [
        list(Conversation.objects.filter(user=user).values_list("id", "title", "model")),
        list(
            Message.objects.filter(conversation__user=user).values_list(
                "id", "content", "rating", "feedback", "shown"
            )
        ),
        list(ApiKey.objects.filter(user=user).values_list("id", "name", "revoked_at")),
    ]


@st.composite
def requests(draw, endpoint: Endpoint, owned: dict[str, list]) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(method, path, encoding, fields) of one generated request to `endpoint`."""
    args = []
    if endpoint.target == "slug":
        args = [draw(st.sampled_from(owned["slug"]) | st.from_regex(r"[-a-zA-Z0-9_]{1,20}", fullmatch=True))]
    elif endpoint.target:
        args = [draw(st.sampled_from(owned[endpoint.target]) | st.integers(0, 10**25))]
    ids = [str(i) for kind in ("conversation", "message", "knowledge_base") for i in owned[kind]]
    values = st.sampled_from(TRICKY + ids) | st.integers(-(10**30), 10**30).map(str)
    values |= st.text(st.characters(exclude_categories=()), max_size=30)
    names = st.sampled_from(endpoint.fields) if endpoint.fields else st.sampled_from(["\x00", "x"])
    fields = draw(st.lists(st.tuples(names | st.sampled_from(["\x00", "\ud800"]), values), max_size=6))
    encoding = "query" if endpoint.method == "GET" else draw(st.sampled_from(["urlencoded", "multipart"]))
    return endpoint.method, reverse(endpoint.url_name, args=args), encoding, fields


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # as a client may send them: ill-formed UTF-8


def send(client, method: str, path: str, encoding: str, fields: list[tuple[str, str]]):
    if encoding == "multipart":
        parts = [
            b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (BOUNDARY.encode(), _bytes(name), _bytes(value))
            for name, value in fields
        ]
        body = b"".join(parts) + b"--%s--\r\n" % BOUNDARY.encode()
        return client.post(path, body, content_type=f"multipart/form-data; boundary={BOUNDARY}")
    text = urlencode(fields, encoding="utf-8", errors="surrogatepass")
    if encoding == "query":
        return client.get(f"{path}?{text}")
    return client.post(path, text, content_type="application/x-www-form-urlencoded")


def each_endpoint(subtests, owned: dict[str, list], check) -> None:
    """Run `check` on requests generated for each endpoint, each endpoint a subtest."""
    for endpoint in ENDPOINTS:
        with subtests.test(endpoint=f"{endpoint.method} {endpoint.url_name}"):
            EXAMPLES(given(request=requests(endpoint, owned))(check))()


def test_another_reader_causes_no_server_error_and_changes_nothing_of_the_owners(
    client, user, other, owned, subtests
):
    client.force_login(other)
    before = snapshot(user)

    def check(request) -> None:
        response = send(client, *request)
        assert response.status_code < 500, request
        assert snapshot(user) == before, request

    each_endpoint(subtests, owned, check)


def test_the_owner_causes_no_server_error(client, user, owned, subtests):
    client.force_login(user)

    def check(request) -> None:
        assert send(client, *request).status_code < 500, request

    each_endpoint(subtests, owned, check)
