"""What a text costs the language model in tokens, estimated without its tokenizer.

The model may be remote and its tokenizer unknown here; the estimate is an upper bound for
DeepSeek-family tokenizers, so budgets built on it hold. The prompt (chat.prompting) and the
widening of passages (knowledge.widening) count with it alike.
"""

import math

# DeepSeek's rule of thumb: an English character is about 0.3 tokens, a Chinese one about 0.6.
_TOKENS_PER_HAN = 0.6
_TOKENS_PER_OTHER = 0.3


def estimate(text: str) -> int:
    han = sum(1 for char in text if "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff")
    return math.ceil(han * _TOKENS_PER_HAN + (len(text) - han) * _TOKENS_PER_OTHER)
