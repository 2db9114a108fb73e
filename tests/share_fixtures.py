"""Fixtures of the sharing and export tests: a conversation whose answer cites two documents, one in
Chinese from the owner's knowledge base and one in English from a knowledge base only `sales` reads."""

import pytest

from chat import sharing
from chat.models import Conversation, Message
from knowledge.models import Document, KnowledgeBase

ANSWER = "DeepSeek-V3 共有 671B 参数 [1]，and a context of 128K tokens [2]."
REASONING = "The guide says 671B; the price list names the context length."


def citation(n: int, document: Document, text: str, *, page: int | None, heading: str = "") -> dict:
    """A citation as the engine saves it (chat.citations.passage_citation)."""
    location = f"p. {page}" if page else heading
    return {
        "n": n,
        "document": document.title,
        "document_id": document.id,
        "chunk_id": 100 + n,
        "location": location,
        "page": page,
        "heading": heading,
        "text": text,
        "score": 0.9 - n / 10,
    }


@pytest.fixture
def answered(user, kb: KnowledgeBase, other_kb: KnowledgeBase) -> Conversation:
    """Alice's conversation: a question and an answer citing [1] (readable by Alice's group) and [2]
    (readable by `sales` only), with reasoning."""
    guide = Document.objects.create(knowledge_base=kb, title="DeepSeek 指南.pdf", sha256="guide")
    prices = Document.objects.create(knowledge_base=other_kb, title="Price list.docx", sha256="prices")
    conversation = Conversation.objects.create(user=user, title="模型参数 / parameters", model="DeepSeek-R1")
    conversation.knowledge_bases.set([kb])
    question = Message.objects.create(
        conversation=conversation, role="user", content="DeepSeek-V3 有多少参数？"
    )
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        reply_to=question,
        content=ANSWER,
        reasoning=REASONING,
        model="deepseek-reasoner",
        error_detail="upstream at 10.0.0.7 said 500",
        citations=[
            citation(1, guide, "DeepSeek-V3 总参数量为 671B。", page=3),
            citation(2, prices, "Context length: 128K tokens.", page=None, heading="Limits"),
        ],
    )
    return conversation


def share_of(conversation: Conversation, **options: bool) -> str:
    """A new link's token, with the options given (all off by default)."""
    options = {"signed_in_only": False, "show_reasoning": False} | options
    return sharing.share_create(conversation=conversation, **options).token
