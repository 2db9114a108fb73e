import asyncio

from chat import streaming
from chatsite import metrics
from tests.sse import events_in


def relay(items: list, spread: float = 0.0) -> list[bytes]:
    """What the response body would carry, chunk by chunk, for these queued events."""

    async def run() -> list[bytes]:
        queue: asyncio.Queue = asyncio.Queue()

        async def feed() -> None:
            for item in items:
                queue.put_nowait(item)
                if spread:
                    await asyncio.sleep(spread)

        feeding = asyncio.create_task(feed())
        chunks = [chunk async for chunk in streaming._relay(queue, metrics.AnswerWatch(metrics.EVENTS))]
        await feeding
        return chunks

    return asyncio.run(run())


ANSWER = [
    ("meta", {"message_id": 1}),
    ("reasoning", {"text": "想"}),
    ("reasoning", {"text": "一想"}),
    ("content", {"text": "Twenty-five "}),
    ("content", {"text": "days [1]."}),
    ("done", {"status": "complete"}),
    None,
]


def test_pieces_waiting_together_go_out_as_one_event_each():
    [chunk] = relay(ANSWER)
    assert events_in(chunk) == [
        ("meta", {"message_id": 1}),
        ("reasoning", {"text": "想一想"}),
        ("content", {"text": "Twenty-five days [1]."}),
        ("done", {"status": "complete"}),
    ]


def test_events_arriving_apart_are_sent_apart_and_nothing_is_lost():
    chunks = relay(ANSWER, spread=streaming.COALESCE_SECONDS * 2)
    assert [events_in(chunk)[0][0] for chunk in chunks] == [
        "meta",
        "reasoning",
        "reasoning",
        "content",
        "content",
        "done",
    ]
    text = "".join(data.get("text", "") for chunk in chunks for _name, data in events_in(chunk))
    assert text == "想一想Twenty-five days [1]."


def test_an_answer_replacing_the_reasoning_is_not_joined_with_other_pieces():
    replacing = ("content", {"text": "The answer.", "replaces_reasoning": True})
    [chunk] = relay([("reasoning", {"text": "The "}), ("reasoning", {"text": "answer."}), replacing, None])
    assert events_in(chunk) == [("reasoning", {"text": "The answer."}), replacing]
