"""Sharing a conversation as a read-only link: making one from the conversation's page, the owner's
list and revoking, and the shared page as the owner, another reader, an outsider and the anonymous
see it."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import Event
from chat import sharing
from chat.models import Conversation, Message, Share
from tests.conftest import signed_in
from tests.share_fixtures import ANSWER, REASONING, share_of


def _shared(client: Client, token: str):
    return client.get(f"/s/{token}/")


def test_it_makes_a_link_and_shows_it_once_to_its_owner(user, answered):
    owner = signed_in(user)
    response = owner.post(f"/c/{answered.id}/share/", {"show_reasoning": "on"})
    assert response.status_code == 302 and response["Location"] == "/shares/"
    share = Share.objects.get()
    assert (share.created_by, share.show_reasoning, share.signed_in_only) == (user, True, False)

    listed = owner.get("/shares/").content.decode()
    link = listed.split('id="new-link" type="text" value="')[1].split('"')[0]
    assert link.startswith("http://testserver/s/") and share.token_hash not in link
    assert sharing.active_share(link.rsplit("/", 2)[1]) == share
    assert "new-link" not in owner.get("/shares/").content.decode()  # shown once
    assert "模型参数 / parameters" in owner.get("/shares/").content.decode()


def test_it_lets_nobody_but_the_owner_share_a_conversation(other, outsider, answered, client):
    for someone in (signed_in(other), signed_in(outsider)):
        assert someone.post(f"/c/{answered.id}/share/").status_code == 404
    assert client.post(f"/c/{answered.id}/share/")["Location"].startswith("/accounts/login/")
    assert not Share.objects.exists()


def test_it_shows_the_answer_and_its_sources_to_anyone_with_the_link(answered, client):
    page = _shared(client, share_of(answered)).content.decode()
    assert "DeepSeek-V3 有多少参数？" in page and "671B" in page
    assert "DeepSeek 指南.pdf" in page and "Price list.docx" in page
    assert "Shared by alice" in page
    for action in ('id="composer"', "action-regenerate", "action-rate", "action-edit", "sidebar", "chat.js"):
        assert action not in page


def test_it_shows_the_reasoning_only_when_the_owner_chose_it(answered, client):
    assert REASONING not in _shared(client, share_of(answered)).content.decode()
    assert REASONING in _shared(client, share_of(answered, show_reasoning=True)).content.decode()


def test_it_links_a_source_only_for_readers_of_its_knowledge_base(answered, client, user, other, outsider):
    token = share_of(answered)
    guide, prices = (c["document_id"] for c in Message.objects.get(role="assistant").citations)
    anonymous = _shared(client, token).content.decode()
    assert "/documents/" not in anonymous and "Open document" not in anonymous
    assert "/documents/" not in _shared(signed_in(outsider), token).content.decode()
    for reader in (signed_in(user), signed_in(other)):  # the owner and another reader of `kb`
        page = _shared(reader, token).content.decode()
        assert f"/documents/{guide}/view/" in page
        assert f"/documents/{prices}/view/" not in page  # `sales`' price list: neither reads it


def test_it_never_shows_the_technical_detail_of_a_failure(answered, client):
    staff = User.objects.create_user("root", is_staff=True, is_superuser=True)
    question = Message.objects.create(conversation=answered, role="user", content="And R1?")
    Message.objects.create(
        conversation=answered,
        role="assistant",
        reply_to=question,
        status="failed",
        error="The model is unavailable.",
        error_detail="upstream at 10.0.0.7 said 500",
    )
    page = _shared(signed_in(staff), share_of(answered)).content.decode()
    assert "The model is unavailable." in page and "10.0.0.7" not in page and "retry-button" not in page


def test_it_shows_the_version_of_an_answer_the_owner_chose(answered, client):
    answer = Message.objects.get(role="assistant")
    Message.objects.filter(id=answer.id).update(shown=False)
    Message.objects.create(
        conversation=answered, role="assistant", reply_to=answer.reply_to, content="Second try."
    )
    page = _shared(client, share_of(answered)).content.decode()
    assert "Second try." in page and "671B" not in page


def test_a_revoked_link_is_the_same_404_as_an_unknown_one(user, answered, client):
    token = share_of(answered)
    share = Share.objects.get()
    response = signed_in(user).post(f"/shares/{share.id}/revoke/")
    assert response.status_code == 302
    assert Share.objects.get().revoked_at is not None
    revoked, unknown = _shared(client, token), _shared(client, "x" * 43)
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.content == unknown.content
    assert _shared(client, "x" * 500).status_code == 404


def test_a_signed_in_only_link_sends_the_anonymous_to_sign_in_and_back(answered, client, outsider):
    token = share_of(answered, signed_in_only=True)
    response = _shared(client, token)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/s/{token}/"
    assert "671B" in _shared(signed_in(outsider), token).content.decode()


def test_the_shared_page_is_kept_out_of_referers_indexes_and_shared_caches(answered, client):
    response = _shared(client, share_of(answered))
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_it_limits_views_of_shared_pages_per_client(answered, client, settings):
    settings.SHARED_PAGE_RATE_PER_CLIENT = "2/min"
    token = share_of(answered)
    assert [_shared(client, token).status_code for _ in range(3)] == [200, 200, 429]
    assert int(_shared(client, token)["Retry-After"]) > 0
    assert Client(REMOTE_ADDR="10.9.9.9").get(f"/s/{token}/").status_code == 200  # another client


def test_only_the_owner_sees_and_revokes_their_links(user, other, outsider, answered, client):
    share_of(answered)
    share = Share.objects.get()
    for someone in (signed_in(other), signed_in(outsider)):
        assert "模型参数" not in someone.get("/shares/").content.decode()
        assert someone.post(f"/shares/{share.id}/revoke/").status_code == 404
    assert client.get("/shares/")["Location"].startswith("/accounts/login/")
    assert client.post(f"/shares/{share.id}/revoke/")["Location"].startswith("/accounts/login/")
    assert Share.objects.get().revoked_at is None


def test_it_bounds_how_many_links_a_user_has_active(user, answered, settings):
    settings.SHARE_MAX_ACTIVE_PER_USER = 2
    owner = signed_in(user)
    for _ in range(3):
        owner.post(f"/c/{answered.id}/share/")
    assert Share.objects.count() == 2
    assert "You have 2 active links: revoke one first." in owner.get("/shares/").content.decode()
    sharing.share_revoke(share=Share.objects.first())
    owner.post(f"/c/{answered.id}/share/")
    assert Share.objects.filter(revoked_at__isnull=True).count() == 2


def test_it_audits_links_made_and_revoked(user, answered):
    share_of(answered, signed_in_only=True)
    sharing.share_revoke(share=Share.objects.get())
    sharing.share_revoke(share=Share.objects.get())  # again: nothing more to record
    events = Event.objects.filter(kind=Event.Kind.SHARE).order_by("id")
    assert [e.detail["action"] for e in events] == ["created", "revoked"]
    assert {e.target for e in events} == {f"conversation:{answered.id}"}
    assert events[0].user == user and events[0].detail["signed_in_only"] is True


def test_the_conversation_page_offers_sharing_and_exports(user, answered):
    page = signed_in(user).get(f"/c/{answered.id}/").content.decode()
    assert f'data-url="/c/{answered.id}/share/"' in page
    assert f"/c/{answered.id}/export.md" in page and f"/c/{answered.id}/export.json" in page


def test_the_shared_page_shows_the_conversation_as_it_is_now(answered, client):
    token = share_of(answered)
    Conversation.objects.filter(id=answered.id).update(title="Renamed")
    Message.objects.create(conversation=answered, role="user", content="A later question")
    page = _shared(client, token).content.decode()
    assert "Renamed" in page and "A later question" in page and ANSWER.split("[")[0] in page


@pytest.mark.parametrize("language,shared_by", [("en", "Shared by"), ("zh-hans", "分享")])
def test_the_shared_page_speaks_the_visitors_language(answered, client, language, shared_by):
    page = client.get(f"/s/{share_of(answered)}/", headers={"accept-language": language}).content.decode()
    assert shared_by in page
