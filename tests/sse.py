"""Reading the server-sent events that the chat page and the API stream."""

import json

from django.urls import reverse


def events_in(body: bytes) -> list[tuple[str, dict]]:
    """(event, data) of each frame, every frame exactly as chat.streaming.sse writes it."""
    events = []
    for frame in body.decode().strip().split("\n\n"):
        name, data = frame.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), frame
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


async def sse_events(response) -> list[tuple[str, dict]]:
    """The events of a whole streaming response."""
    return events_in(b"".join([part async for part in response.streaming_content]))


async def ask_on_chat_page(async_client, **fields) -> list[tuple[str, dict]]:
    """Post the chat page's question form as the logged-in user; the events of the answer."""
    return await sse_events(await async_client.post(reverse("chat:ask"), fields))
