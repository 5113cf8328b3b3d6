"""The topic labeller: a document's topic from its title and the head of its text.

    clf = TopicClassifier.load(model_path, taxonomy_path, head_chars=200, min_score=0.5)
    clf = cached_classifier(model_path, taxonomy_path, head_chars, min_score)  # once per process
    topics, scores = clf.predict(titles, texts)   # topic names, top probabilities
    clf.topics                                    # taxonomy order, the fallback ('other') included

The input is the title plus the first `head_chars` characters of the text (`doc_head`): a title
and a lead paragraph name the subject of a news item or a page, the rest of a long document
adds cost and little signal, and the training data (THUCNews) are titles. The classifier's
view of that head is `features`: its characters (lower-cased, digits as 0, white space
dropped); fastText's word bigrams (`wordNgrams: 2`) add character bigrams. Jieba words scored
0.006 more on a held-out part of THUCNews dev but cost most of the labelling time
(models/topics/README.md). `features_many` builds the lines of a batch in vectorized passes.

The model's labels are classes of the labelled data (`thucnews:stocks`, `source:books`, ...);
the taxonomy maps them onto topics and a topic's probability is the sum of its labels'. Below
`min_score` the document gets the taxonomy's fallback topic (`other`); its score stays the top
topic's probability. An empty head scores 0.0 and gets the fallback, and so does a head that
is not Chinese (`head_is_chinese`, the same test as `corpus.quality.features.is_chinese`) when the model was trained on Chinese
only (99% of its lines; `input.chinese_only` in the report.json beside the model; true when there is none): such
a model labels English text from the few features it shares with Chinese titles, confidently
and wrongly.
"""

from __future__ import annotations

import json
import os
import re
from typing import Sequence

import numpy as np

from corpus.quality.features import _HAN, _KANA, _OTHER_WORD
from corpus.text import cjk
from corpus.topics.taxonomy import Taxonomy, load_taxonomy

LABEL_PREFIX = "__label__"
FEATURES_VERSION = 2
_DIGITS = "0123456789０１２３４５６７８９"
_DIGIT = re.compile(f"[{_DIGITS}]")
_SPACE = re.compile(r"\s+")
# the same in code points, for `features_many`: digits, and the characters `\s` matches
_DIGIT_CODES = np.array([ord(c) for c in _DIGITS], dtype=np.uint32)
_SPACE_CODES = np.array([c for c in range(0x3001) if _SPACE.match(chr(c))], dtype=np.uint32)
_KANA_PIECES = (*cjk.KANA_BLOCKS, "katakana_phonetic")  # as corpus.quality.features


def doc_head(title: str | None, text: str | None, head_chars: int) -> str:
    """The classifier's input: the title, a newline, and the first `head_chars` characters of
    the text; the title is not repeated when the text starts with it (book chapters do)."""
    title = (title or "").strip()
    text = (text or "").lstrip()
    if title and text.startswith(title):
        text = text[len(title):].lstrip()
    head = text[:head_chars]
    return f"{title}\n{head}" if title and head else title or head


def features(head: str) -> str:
    """One line of space-separated features of a head (module docstring): its characters,
    lower-cased, digits as 0, white space dropped; '' when it has no other characters."""
    return " ".join(_SPACE.sub("", _DIGIT.sub("0", head.lower())))


def features_many(heads: Sequence[str], chinese_only: bool = False) -> list[str]:
    """`features(h)` of each head, or '' where `chinese_only` and not `head_is_chinese(h)`, in
    a few vectorized passes over all heads' code points (the per-head string operations cost
    more than the model's predictions). Falls back to the per-head functions on text that
    UTF-32 cannot encode (lone surrogates)."""
    if not heads:
        return []
    low = [h.lower() for h in heads]
    try:
        cps = np.frombuffer("".join(low).encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:
        return [features(h) if not chinese_only or head_is_chinese(h) else "" for h in heads]
    ends = np.cumsum([len(h) for h in low])
    starts = ends - np.array([len(h) for h in low], dtype=ends.dtype)
    keep = ~np.isin(cps, _SPACE_CODES)
    kept_before = np.concatenate(([0], np.cumsum(keep)))
    new_starts, new_ends = kept_before[starts], kept_before[ends]
    chars = np.where(np.isin(cps, _DIGIT_CODES), np.uint32(48), cps)[keep]
    ok = new_ends > new_starts
    if chinese_only:
        # is_chinese by counts: no Han -> no; kana under a tenth and Han at least as many as
        # all other non-space characters (a bound on the runs of other letters) -> yes;
        # otherwise the exact check
        def per_doc(mask):
            c = np.concatenate(([0], np.cumsum(mask)))
            return c[new_ends] - c[new_starts]

        han = per_doc(cjk.mask(chars, *cjk.HAN))
        kana = per_doc(cjk.mask(chars, *_KANA_PIECES))
        rest = (new_ends - new_starts) - han - kana
        sure = (kana * 10 < han + kana) & (han >= rest)
        for i in np.flatnonzero(ok & (han > 0) & ~sure):
            ok[i] = head_is_chinese(heads[i])
        ok &= han > 0
    spaced = np.full(2 * len(chars), 32, dtype=np.uint32)
    spaced[::2] = chars
    text = spaced.tobytes().decode("utf-32-le")
    return [text[2 * a:2 * b - 1] if good else "" for a, b, good in
            zip(new_starts.tolist(), new_ends.tolist(), ok.tolist())]


def head_is_chinese(head: str) -> bool:
    """`corpus.quality.features.is_chinese(head)` (no lang) for a head of at most 2,000
    characters, with its precompiled patterns, cheaper: the Han characters are only counted
    when there are two or more runs of other letters or some kana (rarely, in Chinese text)."""
    if _HAN.search(head) is None:
        return False
    other = len(_OTHER_WORD.findall(head))
    has_kana = _KANA.search(head) is not None
    if other <= 1 and not has_kana:
        return True  # han >= 1 >= other, no kana
    han = len(_HAN.findall(head))
    kana = len(_KANA.findall(head)) if has_kana else 0
    return kana * 10 < han + kana and han >= other


class TopicClassifier:
    """A fastText topic model with its taxonomy, head length and confidence threshold."""

    def __init__(self, model, taxonomy: Taxonomy, head_chars: int = 200, min_score: float = 0.5,
                 path: str | None = None, chinese_only: bool = True):
        self.model = model
        self.chinese_only = bool(chinese_only)
        self.taxonomy = taxonomy
        self.head_chars = int(head_chars)
        self.min_score = float(min_score)
        self.path = path
        self.fallback = taxonomy.fallback
        self.topics = taxonomy.topics
        labels = [label[len(LABEL_PREFIX):] for label in model.get_labels()]
        self._topic = {LABEL_PREFIX + label: taxonomy.topic_of(label) for label in labels}
        self._merged = len(set(self._topic.values())) < len(self._topic)

    @classmethod
    def load(cls, model_path: str, taxonomy_path: str, head_chars: int = 200,
             min_score: float = 0.5) -> "TopicClassifier":
        """Paths may be relative to the project directory (corpus.config.project_path)."""
        import fasttext

        from corpus.config import project_path

        path = str(project_path(model_path))
        model = fasttext.load_model(path)
        chinese_only = True
        report = os.path.join(os.path.dirname(path), "report.json")
        if os.path.exists(report):
            with open(report, encoding="utf-8") as f:
                chinese_only = json.load(f).get("input", {}).get("chinese_only", True)
        return cls(model, load_taxonomy(taxonomy_path), head_chars, min_score, path, chinese_only)

    def lines(self, titles: Sequence[str | None], texts: Sequence[str]) -> list[str]:
        if len(titles) != len(texts):
            raise ValueError(f"{len(titles)} titles but {len(texts)} texts")
        n = self.head_chars
        heads = [doc_head(t, x, n) for t, x in zip(titles, texts)]
        return features_many(heads, self.chinese_only)

    def label_probs(self, lines: Sequence[str]) -> list[dict[str, float]]:
        """Probability of each model label (`__label__` prefix dropped) per feature line."""
        out: list[dict[str, float]] = [{} for _ in lines]
        nonempty = [i for i, line in enumerate(lines) if line]
        if nonempty:
            labels, probs = self.model.predict([lines[i] for i in nonempty], k=-1)
            k = len(LABEL_PREFIX)
            for i, labs, ps in zip(nonempty, labels, probs):
                out[i] = {lab[k:]: float(p) for lab, p in zip(labs, ps)}
        return out

    def predict_lines(self, lines: Sequence[str]) -> tuple[list[str], list[float]]:
        """(topic, top probability) per feature line (see `predict`)."""
        topics = [self.fallback] * len(lines)
        scores = [0.0] * len(lines)
        nonempty = [i for i, line in enumerate(lines) if line]
        if not nonempty:
            return topics, scores
        to_topic, floor = self._topic, self.min_score
        if self._merged:  # a topic's probability is the sum of its labels'
            labels, probs = self.model.predict([lines[i] for i in nonempty], k=-1)
            best, top = self._merge(labels, probs)
            for i, t, score in zip(nonempty, best, top):
                scores[i] = score
                if score >= floor:
                    topics[i] = t
        else:
            labels, probs = self.model.predict([lines[i] for i in nonempty], k=1)
            for i, labs, ps in zip(nonempty, labels, probs):
                score = min(1.0, float(ps[0])) if len(ps) else 0.0
                scores[i] = score
                if score >= floor:
                    topics[i] = to_topic[labs[0]]
        return topics, scores

    def _merge(self, labels, probs) -> tuple[list[str], list[float]]:
        """Per line, the topic of the highest summed label probability and that sum (at most
        1.0), from fastText's k=-1 output: one bincount over (line, topic) cells."""
        names = list(dict.fromkeys(self._topic.values()))
        index = {lab: names.index(t) for lab, t in self._topic.items()}
        n, k = len(labels), len(self._topic)
        if any(len(labs) != k for labs in labels):  # not every label came back: sum by hand
            cells = np.zeros((n, len(names)))
            for row, (labs, ps) in enumerate(zip(labels, probs)):
                for lab, p in zip(labs, ps):
                    cells[row, index[lab]] += p
        else:
            cols = np.fromiter((index[lab] for labs in labels for lab in labs), dtype=np.intp, count=n * k)
            flat = np.repeat(np.arange(n) * len(names), k) + cols
            cells = np.bincount(flat, weights=np.asarray(probs, dtype=np.float64).ravel(),
                                minlength=n * len(names)).reshape(n, len(names))
        best = cells.argmax(axis=1)
        top = np.minimum(cells[np.arange(n), best], 1.0)
        return [names[j] for j in best.tolist()], top.tolist()

    def predict(self, titles: Sequence[str | None], texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """Topic names (the fallback below `min_score`) and top-topic probabilities of documents."""
        return self.predict_lines(self.lines(titles, texts))


_CLASSIFIERS: dict[tuple, TopicClassifier] = {}


def cached_classifier(model_path: str, taxonomy_path: str, head_chars: int = 200,
                      min_score: float = 0.5) -> TopicClassifier:
    """`TopicClassifier.load(...)`, once per Python process (Spark executors keep it)."""
    key = (str(model_path), str(taxonomy_path), int(head_chars), float(min_score))
    clf = _CLASSIFIERS.get(key)
    if clf is None:
        clf = _CLASSIFIERS[key] = TopicClassifier.load(*key)
    return clf
