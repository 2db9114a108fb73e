"""FAQ pairs for the tests: a Chinese and two English curated questions in `kb`."""

import pytest

from faq import services
from faq.models import FaqPair

LEAVE_ZH = "年假有几天？"
LEAVE_EN = "How many vacation days do I get?"
VPN_EN = "How do I reset my VPN password?"


@pytest.fixture
def faq(kb, manager) -> dict[str, FaqPair]:
    pairs = [
        (LEAVE_ZH, "每年 15 天，入职满十年 20 天。", ["一年有多少天年假"]),
        (LEAVE_EN, "25 days a year, 30 after ten years.", ["How much annual leave do we have?"]),
        (VPN_EN, "Reset it at https://vpn.example.com/reset.", []),
    ]
    return {
        question: services.pair_create(
            knowledge_base=kb, question=question, answer=answer, alternatives=alternatives, user=manager
        )
        for question, answer, alternatives in pairs
    }
