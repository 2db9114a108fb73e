"""The app's database for benchmarks/concurrent_chat.py, through the ORM in this process (never
inside the event loop): Django and a PostgreSQL database set up, the knowledge base and users
prepared, and afterwards every saved answer checked, with where each stream's time went before its
first token worked out from the rows' timestamps."""

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from chat_load import PASSWORD, Stream
from chat_report import summary

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "deepseek-r1-guide.zh.md"
MARKERS = re.compile(r"\[\d+\]")


def setup_django(data_dir: Path, database_url: str) -> None:
    os.environ.update(
        DATA_DIR=str(data_dir), DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="chatsite.settings"
    )
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "DEEPSEEK_API_KEY", "LLM_MODELS", "LLM_MODEL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def postgres_database(database_url: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        if create:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                raise SystemExit(f"The database {name} exists; drop it or name another.")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            connection.execute(drop)


def prepare(users: int, retrieval: str) -> tuple[int | None, list[str]]:
    """Tables, the knowledge base with the guide ingested in a subprocess, and users with passwords.
    Without retrieval the questions name no knowledge base, and go to the model as they are."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from knowledge.models import Chunk, KnowledgeBase

    call_command("migrate", verbosity=0)
    command = [sys.executable, "manage.py", "ingest", "--inline", "--create", "--kb", "guide", str(CORPUS)]
    ingested = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True)
    if ingested.returncode:
        raise SystemExit(f"Ingesting the guide failed:\n{ingested.stdout}{ingested.stderr}")
    kb = KnowledgeBase.objects.get(slug="guide")
    if retrieval != "none":
        kb.retrieval_mode = retrieval
        kb.save(update_fields=["retrieval_mode"])
    password = make_password(PASSWORD)  # hashed once: the hasher is slow on purpose
    names = [f"bench-{number}" for number in range(users)]
    User.objects.bulk_create(User(username=name, password=password) for name in names)
    print(f"Knowledge base: {Chunk.objects.filter(knowledge_base=kb).count()} chunks", file=sys.stderr)
    return (kb.id if retrieval != "none" else None), names


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else (end - start) * 1000


def _timeline(stream: Stream, assistant: dict, question_at: float) -> dict[str, float | None]:
    """Where one stream's time went before its first token, in ms: the rows' timestamps against the
    client's clock (the same machine). The assistant row is saved just before `meta` is sent."""
    conversation_at = assistant["conversation__created_at"].timestamp()
    meta_at = assistant["created_at"].timestamp()
    timings = assistant["timings"]
    retrieval, first = timings.get("retrieval_ms"), timings.get("first_reasoning_ms")
    first_at = None if first is None else meta_at + first / 1000
    return {
        "request_to_conversation_saved": _ms(stream.started_wall, conversation_at),
        "conversation_to_question_saved": _ms(conversation_at, question_at),
        "question_to_meta_sent": _ms(question_at, meta_at),
        "meta_sent_to_browser": _ms(meta_at, stream.wall(stream.first_event)),
        "retrieval_after_meta": retrieval,
        "model_first_token_after_retrieval": None if first is None else first - retrieval,
        "first_token_to_browser": _ms(first_at, stream.wall(stream.first_reasoning)),
    }


def check_saved(streams: list[Stream], reasoning: str, answer: str) -> dict:
    """Every answer's row, and where each stream's time went before its first token."""
    from chat.models import Message

    ids = [stream.message_id for stream in streams if stream.message_id is not None]
    fields = ("id", "status", "content", "reasoning", "timings", "created_at", "conversation_id")
    rows = {
        row["id"]: row
        for row in Message.objects.filter(id__in=ids).values(*fields, "conversation__created_at")
    }
    questions = dict(
        Message.objects.filter(conversation_id__in=[row["conversation_id"] for row in rows.values()])
        .filter(role=Message.Role.USER)
        .values_list("conversation_id", "created_at")
    )
    complete = [row for row in rows.values() if row["status"] == Message.Status.COMPLETE]
    steps: dict[str, list[float | None]] = {}
    for stream in streams:
        if stream.message_id in rows:
            row = rows[stream.message_id]
            timeline = _timeline(stream, row, questions[row["conversation_id"]].timestamp())
            for name, value in timeline.items():
                steps.setdefault(name, []).append(value)
    return {
        "answers_started": len(ids),
        "assistant_messages": len(rows),
        "complete": len(complete),
        # Markers pointing to no passage are dropped (answers without a knowledge base).
        "whole_answer": sum(MARKERS.sub("", row["content"]) == MARKERS.sub("", answer) for row in complete),
        "whole_reasoning": sum(row["reasoning"] == reasoning for row in complete),
        "statuses": sorted({row["status"] for row in rows.values()}),
        "first_token_path_ms": {name: summary(values) for name, values in steps.items()},
    }
