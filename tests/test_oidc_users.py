"""What an OIDC sign-in does to the local user: created at the first one, found again by the provider's
subject, name and e-mail copied, groups mirrored from the groups claim as OIDC_MIRROR_GROUPS says."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.oidc import oidc_user_sign_in
from tests.conftest import person
from tests.oidc import configure_oidc

pytestmark = pytest.mark.django_db


def claims(*groups: str, sub: str = "subject-1", **more: object) -> dict:
    return {"sub": sub, "preferred_username": "wangfang", "groups": list(groups), **more}


def group_names(user: User) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


@pytest.fixture(autouse=True)
def _oidc(settings) -> None:
    configure_oidc(settings)


def test_it_creates_the_user_at_the_first_sign_in():
    user = oidc_user_sign_in(
        claims=claims("engineering", given_name="Fang", family_name="Wang", email="fang@example.com")
    )
    assert (user.username, user.get_full_name(), user.email) == ("wangfang", "Fang Wang", "fang@example.com")
    assert group_names(user) == ["engineering"] and not user.has_usable_password()


def test_it_finds_the_user_again_by_subject_and_updates_the_profile():
    first = oidc_user_sign_in(claims=claims(name="王芳", email="fang@example.com"))
    again = oidc_user_sign_in(
        claims=claims(preferred_username="fang.wang", name="王芳芳", email="f@example.com")
    )
    assert again.pk == first.pk and User.objects.count() == 1
    assert (again.username, again.first_name, again.last_name, again.email) == (
        "wangfang",
        "王芳芳",
        "",
        "f@example.com",
    )


def test_a_local_account_of_the_same_name_and_email_is_not_taken_over(readers):
    local = person("wangfang", readers)
    local.email = "fang@example.com"
    local.save()
    user = oidc_user_sign_in(claims=claims("engineering", email="fang@example.com"))
    assert user.pk != local.pk and user.username == "wangfang-2"
    assert group_names(local) == ["readers"]


def test_by_default_groups_an_administrator_gave_stay_and_groups_the_provider_took_away_go(readers):
    user = oidc_user_sign_in(claims=claims("engineering", "sales"))
    user.groups.add(readers)  # by hand, in the admin
    oidc_user_sign_in(claims=claims("engineering"))
    assert group_names(user) == ["engineering", "readers"]


def test_a_group_the_provider_gives_that_the_user_already_had_becomes_the_providers(readers):
    user = oidc_user_sign_in(claims=claims())
    user.groups.add(readers)
    oidc_user_sign_in(claims=claims("readers"))
    oidc_user_sign_in(claims=claims())
    assert group_names(user) == []


def test_a_list_of_mirrored_groups_limits_what_the_provider_decides(settings, readers):
    configure_oidc(settings, mirror_groups=("engineering", "sales"))
    user = oidc_user_sign_in(claims=claims("engineering", "administrators"))
    user.groups.add(readers)
    assert group_names(user) == ["engineering", "readers"]
    assert not Group.objects.filter(name="administrators").exists()
    oidc_user_sign_in(claims=claims("sales", "readers"))
    assert group_names(user) == ["readers", "sales"]


def test_a_star_gives_the_provider_all_of_the_users_groups(settings, readers):
    configure_oidc(settings, mirror_groups=("*",))
    user = oidc_user_sign_in(claims=claims("engineering"))
    user.groups.add(readers)
    oidc_user_sign_in(claims=claims("sales"))
    assert group_names(user) == ["sales"]


def test_the_groups_claim_is_configurable_and_bad_values_are_left_out(settings):
    configure_oidc(settings, groups_claim="roles")
    user = oidc_user_sign_in(claims=claims("ignored", roles=["研发部", "x" * 151, 7, " ", "研发部"]))
    assert group_names(user) == ["研发部"]


def test_one_group_given_as_a_string_is_read_as_one_group():
    assert group_names(oidc_user_sign_in(claims={"sub": "s", "groups": "engineering"})) == ["engineering"]


def test_a_user_without_a_name_at_the_provider_is_named_by_subject():
    assert oidc_user_sign_in(claims={"sub": "a1b2c3"}).username == "a1b2c3"
