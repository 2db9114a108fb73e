import asyncio
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chat import answering
from chat.models import Conversation
from knowledge.models import KnowledgeBase


class Command(BaseCommand):
    help = "Ask a knowledge base a question through the same answer path as the chat page."

    def add_arguments(self, parser) -> None:
        parser.add_argument("question")
        parser.add_argument("--kb", required=True, metavar="SLUG")
        parser.add_argument("--model", help="LLM model id (default: LLM_MODEL)")
        parser.add_argument("--user", help="ask as this user (default: the first superuser)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, question: str, kb: str, model: str | None, user: str | None, **options) -> None:
        asker = self._user(user)
        knowledge_base = KnowledgeBase.objects.readable_by(asker).filter(slug=kb).first()
        if knowledge_base is None:
            raise CommandError(f"No knowledge base {kb!r} readable by {asker.username}.")
        conversation = Conversation.objects.create(user=asker, model=model or "")
        conversation.knowledge_bases.set([knowledge_base])
        result = asyncio.run(self._run(asker, conversation, question, as_json=options["json"]))
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        if result["error"]:
            raise CommandError(result["error"])

    def _user(self, username: str | None):
        users = get_user_model().objects.filter(is_active=True)
        found = (
            users.filter(username=username).first() if username else users.filter(is_superuser=True).first()
        )
        if found is None:
            raise CommandError("No such user; pass --user or create a superuser first.")
        return found

    async def _run(self, user, conversation: Conversation, question: str, *, as_json: bool) -> dict:
        result: dict[str, Any] = {
            "reasoning": "",
            "answer": "",
            "citations": [],
            "mode": "",
            "grounding": "",
            "error": "",
        }
        section = ""
        async for event, data in answering.answer_question(
            user=user, conversation=conversation, question=question
        ):
            if event in ("reasoning", "content"):
                if data.get("replaces_reasoning"):
                    result["reasoning"] = ""
                    section = ""  # print the answer's heading: what streamed as reasoning was the answer
                result["reasoning" if event == "reasoning" else "answer"] += data["text"]
                if not as_json:
                    if section != event:
                        self.stdout.write(f"\n--- {'reasoning' if event == 'reasoning' else 'answer'} ---\n")
                        section = event
                    self.stdout.write(data["text"], ending="")
                    self.stdout.flush()
            elif event == "error":
                result["error"] = data["message"]
            elif event == "done":
                result["mode"] = data["mode"]  # retrieval-only, too, when the model could not be reached
                result["grounding"] = data["grounding"]  # faq: a curated answer, without the model
                result["citations"] = [
                    {"n": c["n"], "document": c["document"], "chunk_id": c["chunk_id"], "text": c["text"]}
                    for c in data["citations"]
                ]
        if not as_json:
            self.stdout.write("\n--- citations ---")
            for c in result["citations"]:
                self.stdout.write(f"[{c['n']}] {c['document']} (chunk {c['chunk_id']}): {c['text'][:160]}")
        return result
