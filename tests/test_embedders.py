"""Embedders as configuration: the EMBEDDERS setting, the OpenAI-compatible client on the wire
(tests/fake_embeddings.py), and a knowledge base that ingests and answers through its own embedder."""

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge import embedder_config, embedders, embedding, retrieval
from knowledge.embedder_config import DEFAULT_NAME
from knowledge.models import Document, KnowledgeBase
from knowledge.remote_embedding import estimate_tokens
from tests.conftest import PRODUCTS, ingest_texts
from tests.fake_embeddings import MODEL

NAME = "bge-m3 (test)"
TEXTS = ["Leave is 25 days.", "年假有几天？", "The Atlas server", "Boreal laptop", "Parking"]


def test_it_always_has_the_built_in_embedder_first(settings):
    settings.EMBEDDERS = None
    assert embedders.names() == [DEFAULT_NAME]
    settings.EMBEDDERS = [{"name": "mini", "model": "all-MiniLM-L6-v2"}]
    assert embedders.names() == [DEFAULT_NAME, "mini"]
    assert embedders.default().dimension() == embedding.dimension()


def test_a_local_embedder_is_a_sentence_transformers_model_by_name_or_path(settings):
    settings.EMBEDDERS = [{"name": "mini", "model": embedding.model_path(), "batch_size": 2}]
    local = embedders.get("mini")
    assert np.allclose(local.embed(TEXTS), embedding.embed(TEXTS), atol=1e-5)
    assert np.allclose(local.embed_queries(TEXTS[:1]), embedding.embed(TEXTS[:1]), atol=1e-5)
    assert local.count_tokens("年假有几天？") == embedding.count_tokens("年假有几天？")
    assert local.max_chunk_tokens() == embedding.max_chunk_tokens()
    assert local.skills() == embedding.skills()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"name": "x", "type": "openai", "model": "m", "base_url": "ftp://h"},
            "entry 1: base_url must be an",
        ),
        ({"name": "x", "type": "openai", "base_url": "http://h/v1"}, "entry 1: model must name"),
        ({"name": "x", "type": "cohere"}, "entry 1: type must be one of: local, openai"),
        ({"name": "x", "batch_size": 0}, "entry 1: batch_size must be a whole number, 1 or more"),
        ({"name": "x", "timeout": "soon"}, "entry 1: timeout must be a number"),
        ({"name": "x", "base_url": "http://h/v1"}, 'entry 1: base_url and api_key are for "type": "openai"'),
        ({"name": "x", "colour": "red"}, "entry 1: unknown field(s) colour"),
        ({"model": "m"}, "entry 1: name is needed"),
        ({"name": DEFAULT_NAME}, f"entry 1: name {DEFAULT_NAME!r} is taken"),
        ("bge-m3", 'entry 1: an object with at least a "name"'),
    ],
)
def test_it_names_the_entry_and_field_of_a_mistake(settings, entry, problem):
    settings.EMBEDDERS = [entry]
    with pytest.raises(
        ImproperlyConfigured, match="EMBEDDERS " + problem.replace("(", r"\(").replace(")", r"\)")
    ):
        embedder_config.configured()


def test_a_mistake_stops_the_app_at_start_and_keys_come_from_the_variables_named(tmp_path):
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "EMBEDDERS": '[{"name": "x", "timeout": 0}]'}
    check = [sys.executable, "manage.py", "check"]
    result = subprocess.run(check, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "EMBEDDERS entry 1: timeout must be a number of seconds above 0" in result.stderr.splitlines()[-1]
    entry = {
        "name": "TEI",
        "type": "openai",
        "model": "m",
        "base_url": "http://tei/v1",
        "api_key_env": "TEI_KEY",
    }
    env |= {"EMBEDDERS": json.dumps([entry]), "TEI_KEY": "sk-tei"}
    code = "from knowledge import embedders; print(embedders.get('TEI').config.api_key)"
    shell = [sys.executable, "manage.py", "shell", "-c", code]
    result = subprocess.run(shell, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.split()[-1:] == ["sk-tei"]


def test_it_refuses_a_setting_that_is_not_a_list(settings):
    settings.EMBEDDERS = {"name": "x"}
    with pytest.raises(ImproperlyConfigured, match="EMBEDDERS must be a JSON list"):
        embedders.names()


def test_it_names_an_embedder_that_is_not_configured(settings):
    settings.EMBEDDERS = None
    with pytest.raises(embedders.EmbedderError, match="'gone' is not configured"):
        embedders.get("gone")


def test_it_embeds_in_batches_in_the_openai_wire_format(settings, fake_embeddings):
    settings.EMBEDDERS = [fake_embeddings.embedder(batch_size=2)]
    vectors = embedders.get(NAME).embed(TEXTS)
    assert [request["input"] for request in fake_embeddings.requests] == [TEXTS[:2], TEXTS[2:4], TEXTS[4:]]
    assert {request["model"] for request in fake_embeddings.requests} == {MODEL}
    assert vectors.shape == (5, embedding.dimension()) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    english = [0, 2, 3, 4]
    assert np.allclose(vectors[english], embedding.embed([TEXTS[i] for i in english]), atol=1e-5)


def test_it_retries_a_busy_server_then_succeeds(multilingual):
    multilingual.fail(503, times=2)
    assert embedders.get(NAME).embed(["Parking"]).shape == (1, embedding.dimension())
    assert len(multilingual.requests) == 3


def test_it_gives_up_after_its_retries_with_the_servers_reason(multilingual):
    multilingual.fail(429)
    with pytest.raises(embedders.EmbedderError) as failure:
        embedders.get(NAME).embed(["Parking"])
    assert "failed 3 time(s): HTTP 429: Rate limit reached for requests" in str(failure.value)
    assert len(multilingual.requests) == 3


def test_it_does_not_retry_a_refused_request(settings, fake_embeddings):
    settings.EMBEDDERS = [fake_embeddings.embedder(api_key="sk-wrong")]
    with pytest.raises(embedders.EmbedderError, match="refused the request: HTTP 401: Incorrect API key"):
        embedders.get(NAME).embed(["Parking"])
    settings.EMBEDDERS = [fake_embeddings.embedder(model="no-such-model")]
    with pytest.raises(embedders.EmbedderError, match="HTTP 404: The model `no-such-model` does not exist"):
        embedders.get(NAME).embed(["Parking"])
    assert len(fake_embeddings.requests) == 2


def test_it_names_a_server_that_cannot_be_reached(settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.EMBEDDERS = [
        {
            "name": NAME,
            "type": "openai",
            "model": MODEL,
            "base_url": f"http://127.0.0.1:{port}/v1",
            "retries": 0,
        }
    ]
    with pytest.raises(embedders.EmbedderError, match=r"failed 1 time\(s\): cannot be reached"):
        embedders.get(NAME).embed(["Parking"])


def test_it_estimates_tokens_high_without_a_tokenizer():
    assert estimate_tokens("年假有几天？") == 6
    assert estimate_tokens("Annual leave: 25 days.") == 2 + 2 + 1 + 1 + 1 + 1


def test_a_multilingual_embedder_gets_dense_weight_in_chinese_with_no_setting(multilingual):
    skills = embedders.get(NAME).skills()
    assert skills["han"] >= retrieval.USABLE_SKILL and skills["latin"] >= retrieval.USABLE_SKILL
    assert retrieval.dense_weight("服务器需要多少内存？", skills=skills) == skills["han"]
    assert retrieval.dense_weight("服务器需要多少内存？") == 0.0  # the built-in model's


@pytest.fixture
def multilingual_kb(readers, multilingual) -> KnowledgeBase:
    knowledge_base = KnowledgeBase.objects.create(name="Products", slug="products", embedder=NAME)
    knowledge_base.groups.add(readers)
    return knowledge_base


def test_a_chinese_question_finds_an_english_passage_through_its_embedder(
    multilingual_kb, multilingual, kb, tmp_path
):
    ingest_texts(multilingual_kb, tmp_path, PRODUCTS)
    assert {request["model"] for request in multilingual.requests} == {MODEL}
    found = retrieval.search(query="哪台笔记本电脑适合出差？", knowledge_bases=[multilingual_kb]).passages
    assert found[0].text.startswith("The Boreal laptop") and found[0].dense_score > 0.5
    (tmp_path / "built-in").mkdir()
    ingest_texts(kb, tmp_path / "built-in", PRODUCTS)
    both = retrieval.search(query="哪台笔记本电脑适合出差？", knowledge_bases=[kb, multilingual_kb]).passages
    # Each knowledge base is searched with its own embedder: the built-in one's by words alone.
    assert {p.knowledge_base_id for p in both} == {multilingual_kb.id}


def test_a_document_fails_with_the_reason_its_embedder_gives(multilingual_kb, multilingual, tmp_path):
    multilingual.fail(400)
    ingest_texts(multilingual_kb, tmp_path, {"atlas.txt": PRODUCTS["atlas.txt"]})
    document = Document.objects.get()
    assert document.status == Document.Status.FAILED
    assert "refused the request: HTTP 400" in document.error and NAME in document.error


def test_a_search_falls_back_to_words_when_its_embedder_fails(
    multilingual_kb, multilingual, tmp_path, caplog
):
    ingest_texts(multilingual_kb, tmp_path, PRODUCTS)
    multilingual.fail(400)
    with caplog.at_level(logging.WARNING, logger="knowledge.retrieval"):
        found = retrieval.search(query="Atlas server memory", knowledge_bases=[multilingual_kb]).passages
    assert found[0].text.startswith("How much memory") and found[0].dense_score is None
    assert "Searching by words only" in caplog.text
