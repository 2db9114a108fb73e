import threading

import numpy as np
import pytest

from knowledge import embedding

QUESTIONS = [f"How many days of leave does team {n} get?" for n in range(12)] + ["年假有几天？"]


def test_questions_asked_at_once_are_embedded_together_and_each_gets_its_own_vectors(monkeypatch):
    batches: list[int] = []
    real_embed = embedding.embed
    release = threading.Event()

    def counting_embed(texts, *, batch_size=None):
        release.wait(5)  # hold the first batch until every question is waiting
        batches.append(len(texts))
        return real_embed(texts, batch_size=batch_size)

    monkeypatch.setattr(embedding, "embed", counting_embed)
    results: dict[str, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda q=q: results.__setitem__(q, embedding.embed_queries([q, "context"])))
        for q in QUESTIONS
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(batches) < len(QUESTIONS) and sum(batches) == 2 * len(QUESTIONS)
    for question in QUESTIONS:
        assert np.allclose(results[question], real_embed([question, "context"]), atol=1e-5)


def test_an_embedding_failure_reaches_the_caller_and_the_next_question_still_works(monkeypatch):
    real_embed = embedding.embed
    monkeypatch.setattr(embedding, "embed", lambda texts, batch_size=None: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        embedding.embed_queries(["first"])
    monkeypatch.setattr(embedding, "embed", real_embed)
    assert embedding.embed_queries(["second"]).shape == (1, embedding.dimension())
