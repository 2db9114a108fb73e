"""The chat sidebar says who is signed in, with sign-out beside the name, in both languages."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS, log_in
from tests.conftest import person

pytestmark = pytest.mark.django_db(transaction=True)


def assert_name_shown_beside_sign_out(page: Page, name: str, sign_out: str) -> None:
    account = page.locator(".sidebar-foot .account")
    shown = account.locator(".account-name")
    expect(shown).to_have_text(name)
    assert shown.evaluate("node => node.scrollWidth <= node.clientWidth"), "the name is cut"
    button = page.locator(".sidebar-foot").get_by_role("button", name=sign_out)
    expect(button).to_be_visible()
    name_box, button_box = shown.bounding_box(), button.bounding_box()
    assert name_box and button_box
    assert abs((name_box["y"] + name_box["height"] / 2) - (button_box["y"] + button_box["height"] / 2)) < 8


@pytest.mark.parametrize(("language", "sign_out"), [("en-US", "Log out"), ("zh-CN", "退出登录")])
def test_it_shows_who_is_signed_in_next_to_sign_out(page, kb, readers, language, sign_out):
    staff = person("wangfang", readers)
    staff.first_name, staff.last_name, staff.is_staff = "Fang", "Wang", True
    staff.save()
    page.set_extra_http_headers({"Accept-Language": language})
    log_in(page, staff)
    assert_name_shown_beside_sign_out(page, "Fang Wang", sign_out)
    page.screenshot(path=str(ARTIFACTS / f"sidebar-account-{language}.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.click(".nav-open")
    page.wait_for_timeout(400)  # the drawer slides in
    assert_name_shown_beside_sign_out(page, "Fang Wang", sign_out)
    page.screenshot(path=str(ARTIFACTS / f"sidebar-account-phone-{language}.png"))
