"""Asking a real web server (tests/processes.py) on the chat page, reading the answer's events as
they stream."""

import json
import secrets

import aiohttp
from django.contrib.auth.models import User
from django.test import Client


def browser_cookies(user: User) -> dict[str, str]:
    """A signed-in session of `user` (in the database, which the servers share) and a CSRF token."""
    browser = Client()
    browser.force_login(user)
    return {"sessionid": browser.cookies["sessionid"].value, "csrftoken": secrets.token_hex(16)}


def _headers(cookies: dict[str, str]) -> dict[str, str]:
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return {"X-CSRFToken": cookies["csrftoken"], "Cookie": cookie}


class StreamedAnswer:
    """The events of an answer streaming from the chat page, read as far as a test asks."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: list[tuple[str, dict]] = []

    async def until(self, *names: str) -> tuple[str, dict]:
        """Read on to the first event named one of `names`; AssertionError if the stream ends first."""
        frame: list[str] = []
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if line:
                frame.append(line)
                continue
            name, data = frame
            frame = []
            self.events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
            if self.events[-1][0] in names:
                return self.events[-1]
        raise AssertionError(f"the stream ended before {names}: {self.events[-3:]}")

    def text(self, name: str = "content") -> str:
        return "".join(data["text"] for event, data in self.events if event == name)

    @property
    def message_id(self) -> int:
        return next(data["message_id"] for event, data in self.events if event == "meta")


async def ask(
    session: aiohttp.ClientSession, url: str, cookies: dict[str, str], kb_id: int, question: str
) -> StreamedAnswer:
    form = {"question": question, "knowledge_base": str(kb_id)}
    response = await session.post(f"{url}/ask/", data=form, headers=_headers(cookies))
    assert response.status == 200, await response.text()
    return StreamedAnswer(response)


async def stop(session: aiohttp.ClientSession, url: str, cookies: dict[str, str], message_id: int) -> dict:
    async with session.post(f"{url}/messages/{message_id}/stop/", headers=_headers(cookies)) as response:
        assert response.status == 200, await response.text()
        return await response.json()
