"""The synthetic knowledge base of benchmarks/search_latency.py (described in its docstring): chunks
and questions, with their vectors and texts, drawn with numpy from a fixed seed."""

from dataclasses import dataclass

import numpy as np

KB_ID = 1  # the index is built for this id; no database rows are written
DIMENSION = 384  # all-MiniLM-L6-v2, the default model

# Vectors: topic + subtopic + chunk offsets, drawn with variances falling as rank^-SPECTRUM; MIXED
# of a chunk's subtopic weight goes to MIXED_WITH other subtopics (Dirichlet shares).
TOPICS, SUBTOPICS = 200, 5000
SPECTRUM, MEAN, SUBTOPIC_SPREAD, CHUNK_SPREAD, ISOTROPIC = 0.8, 0.6, 1.0, 0.8, 0.3
MIXED, MIXED_WITH = 0.8, 2
# Texts
VOCABULARY, TOPIC_WORDS, CHINESE_WORDS, CHINESE_TOPIC_WORDS = 50_000, 300, 5000, 60
TOPIC_SHARE, CHINESE_SHARE = 0.2, 0.1
STOP_WORDS = "the of and to in a is that for it as with was on by are be this from or at an which not we"
# Not stop words for the tokenizer, so a question's "what" or "how" is searched: placed at their
# English frequency ranks.
QUESTION_WORDS = {"what": 50, "who": 60, "when": 70, "how": 80, "where": 150, "does": 200, "why": 300}
OPENINGS = ("what is", "what are the", "how does", "how do", "why does", "when was", "where is", "who")


def _zipf_cdf(count: int, offset: float = 2.7) -> np.ndarray:
    weights = 1 / (np.arange(count) + 1 + offset)
    return np.cumsum(weights) / weights.sum()


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(size)), len(cdf) - 1)


def _made_up_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    onsets = [*"bcdfghjklmnprstvz", "br", "ch", "cl", "dr", "fr", "gr", "kr", "pl", "pr", "sh", "st", "tr"]
    vowels = [*"aeiou", "ai", "ea", "io", "ou"]
    codas = ["", "", "", "n", "r", "s", "l", "m", "k", "x"]
    words: dict[str, None] = {}
    while len(words) < count:
        syllables = rng.integers(2, 5)
        pieces = [
            onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] for _ in range(syllables)
        ]
        word = "".join(pieces) + codas[rng.integers(len(codas))]
        if word not in taken:
            words[word] = None
    return list(words)


def _chinese_words(count: int) -> list[str]:
    """The most frequent two-character words of jieba's dictionary, so that jieba segments as in real text."""
    import jieba

    jieba.dt.check_initialized()
    pairs = [
        (-frequency, word)
        for word, frequency in jieba.dt.FREQ.items()
        if len(word) == 2 and frequency > 0 and all("\u4e00" <= c <= "\u9fff" for c in word)
    ]
    return [word for _frequency, word in sorted(pairs)[:count]]


@dataclass
class Batch:
    ids: np.ndarray
    vectors: np.ndarray
    texts: list[str]
    chinese: np.ndarray

    def select(self, positions: list[int]) -> "Batch":
        return Batch(
            self.ids[positions],
            self.vectors[positions],
            [self.texts[p] for p in positions],
            self.chinese[positions],
        )


class Corpus:
    """The synthetic knowledge base: the same seed gives the same chunks and questions."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        self.rotation = np.linalg.qr(rng.standard_normal((DIMENSION, DIMENSION)))[0].astype(np.float32)
        scales = np.arange(1, DIMENSION + 1) ** (-SPECTRUM / 2)
        self.scales = (scales / np.sqrt((scales**2).sum())).astype(np.float32)
        mean = rng.standard_normal(DIMENSION)
        self.mean = (MEAN * mean / np.linalg.norm(mean)).astype(np.float32)
        topics = self._anisotropic(rng, TOPICS)
        self.subtopic_topic = rng.integers(0, TOPICS, SUBTOPICS)
        self.subtopics = topics[self.subtopic_topic] + SUBTOPIC_SPREAD * self._anisotropic(rng, SUBTOPICS)
        sizes = rng.permutation(1 / (np.arange(SUBTOPICS) + 10) ** 0.8)
        self.subtopic_cdf = np.cumsum(sizes) / sizes.sum()

        stop = STOP_WORDS.split()
        taken = set(stop) | set(QUESTION_WORDS)
        latin = stop + _made_up_words(rng, VOCABULARY - len(taken), taken)
        for word, rank in sorted(QUESTION_WORDS.items(), key=lambda item: item[1]):
            latin.insert(rank, word)
        self.words = latin + _chinese_words(CHINESE_WORDS)
        self.latin_cdf = _zipf_cdf(VOCABULARY)
        self.chinese_cdf = _zipf_cdf(CHINESE_WORDS)
        self.topic_cdf = _zipf_cdf(TOPIC_WORDS, offset=0)
        self.chinese_topic_cdf = _zipf_cdf(CHINESE_TOPIC_WORDS, offset=0)
        self.topic_words = rng.integers(1000, VOCABULARY, (TOPICS, TOPIC_WORDS))
        self.chinese_topic_words = VOCABULARY + rng.integers(
            200, CHINESE_WORDS, (TOPICS, CHINESE_TOPIC_WORDS)
        )

    def _anisotropic(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return (rng.standard_normal((count, DIMENSION), dtype=np.float32) * self.scales) @ self.rotation

    def _vectors(self, rng: np.random.Generator, subtopics: np.ndarray) -> np.ndarray:
        count = len(subtopics)
        shares = MIXED * rng.dirichlet(np.ones(MIXED_WITH), count).astype(np.float32)
        vectors = (1 - MIXED) * self.subtopics[subtopics]
        for column in range(MIXED_WITH):
            vectors += shares[:, column, None] * self.subtopics[_draw(rng, self.subtopic_cdf, count)]
        vectors += CHUNK_SPREAD * self._anisotropic(rng, count)
        vectors += self.mean
        vectors += ISOTROPIC / np.sqrt(DIMENSION) * rng.standard_normal(vectors.shape, dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def _words(
        self, rng: np.random.Generator, topics: np.ndarray, chinese: np.ndarray, topic_share: float
    ) -> np.ndarray:
        """A word id per entry of `topics` (one per word to draw), Chinese where `chinese` says."""
        count = len(topics)
        from_topic = rng.random(count) < topic_share
        latin_topic = self.topic_words[topics, _draw(rng, self.topic_cdf, count)]
        latin = np.where(from_topic, latin_topic, _draw(rng, self.latin_cdf, count))
        han_topic = self.chinese_topic_words[topics, _draw(rng, self.chinese_topic_cdf, count)]
        han = np.where(from_topic, han_topic, VOCABULARY + _draw(rng, self.chinese_cdf, count))
        return np.where(chinese, han, latin)

    def _chinese_text(self, words: list[str]) -> str:
        """Chinese words run together, English ones set apart by spaces, a comma every eighth word."""
        parts = [word if word >= "\u3400" else f" {word} " for word in words]
        for position in range(7, len(parts), 8):
            parts[position] += "，"
        return "".join(parts) + "。"

    def chunks(self, number: int, first_id: int, count: int) -> Batch:
        rng = np.random.default_rng([self.seed, 1, number])
        subtopics = _draw(rng, self.subtopic_cdf, count)
        chinese = rng.random(count) < CHINESE_SHARE
        lengths = rng.integers(40, 61, count)
        owners = np.repeat(np.arange(count), lengths)
        # In a Chinese chunk one word in ten is English, as with names of models and products.
        han = chinese[owners] & (rng.random(len(owners)) < 0.9)
        words = self._words(rng, self.subtopic_topic[subtopics][owners], han, TOPIC_SHARE)
        names = [self.words[i] for i in words.tolist()]
        ends = np.cumsum(lengths).tolist()
        texts = [
            self._chinese_text(names[start:end]) if is_chinese else " ".join(names[start:end])
            for start, end, is_chinese in zip([0, *ends], ends, chinese.tolist(), strict=False)
        ]
        ids = np.arange(first_id, first_id + count, dtype=np.int64)
        return Batch(ids, self._vectors(rng, subtopics), texts, chinese)

    def questions(self, count: int) -> Batch:
        """Questions drawn like chunks (so where the chunks are), of mostly rarer words."""
        rng = np.random.default_rng([self.seed, 2])
        subtopics = _draw(rng, self.subtopic_cdf, count)
        chinese = rng.random(count) < CHINESE_SHARE
        texts = []
        for subtopic, is_chinese in zip(subtopics.tolist(), chinese.tolist(), strict=True):
            length = int(rng.integers(2, 5) if is_chinese else rng.integers(3, 9))
            topics = np.full(length * 4, self.subtopic_topic[subtopic])
            words = self._words(rng, topics, np.full(len(topics), is_chinese), 0.5)
            rare = [self.words[i] for i in words.tolist() if is_chinese or i >= 300][:length]
            if is_chinese:
                texts.append("".join(rare))
            else:
                texts.append(" ".join([OPENINGS[rng.integers(len(OPENINGS))], *rare]) + "?")
        ids = np.zeros(count, dtype=np.int64)
        return Batch(ids, self._vectors(rng, subtopics), texts, chinese)
