"""The topic labeller: a document's topic from its title and the head of its text.

    clf = TopicClassifier.load(model_path, taxonomy_path, head_chars=200, min_score=0.5)
    clf = cached_classifier(model_path, taxonomy_path, head_chars, min_score)  # once per process
    topics, scores = clf.predict(titles, texts)   # topic names, top probabilities
    clf.topics                                    # taxonomy order, the fallback ('other') included

The input is the title plus the first `head_chars` characters of the text (`doc_head`): a title
and a lead paragraph name the subject of a news item or a page, the rest of a long document
adds cost and little signal, and the training data (THUCNews) are titles. The base view of
that head is `features`: its characters (lower-cased, digits as 0, white space dropped);
`view_lines` derives the other views from it (jieba words, every jieba token, character pairs),
and fastText's word n-grams (`wordNgrams`) add pairs of those. The shipped classifier is an
ensemble of two small models, characters and jieba tokens, their label probabilities averaged:
a little more accuracy on a held-out part of THUCNews dev than the character model alone, at a
third of its speed (models/topics/README.md). `features_many` builds the lines of a batch in vectorized passes.

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
from itertools import chain, compress
from typing import Sequence

import numpy as np

from corpus.quality.features import _HAN, _KANA, _OTHER_WORD
from corpus.text import cjk
from corpus.topics.taxonomy import Taxonomy, load_taxonomy

LABEL_PREFIX = "__label__"
FEATURES_VERSION = 3
_ONE = 1
# the views of a head a model can read (`view_lines`): tokens joined with "+", in this order
VIEW_TOKENS = ("words", "jieba", "chars", "bigrams")
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


def parse_view(view: str) -> tuple[str, ...]:
    """The token kinds of a view name such as 'words+chars' (`VIEW_TOKENS`), checked."""
    kinds = tuple(view.split("+"))
    if not kinds or any(k not in VIEW_TOKENS for k in kinds) or len(set(kinds)) != len(kinds):
        raise ValueError(f"feature view {view!r}: expected tokens of {'+'.join(VIEW_TOKENS)} joined with '+'")
    return tuple(k for k in VIEW_TOKENS if k in kinds)


def jieba_cuts(char_lines: Sequence[str]) -> list[list[str]]:
    """The jieba tokens (rjieba, no HMM) of each line's characters joined, for `view_lines`."""
    import rjieba

    cut = rjieba.cut
    return [cut(line.replace(" ", ""), hmm=False) if line else [] for line in char_lines]


def view_lines(char_lines: Sequence[str], view: str, cuts: Sequence[list[str]] | None = None) -> list[str]:
    """The lines of a view from the lines of `features_many` (characters, space-separated):
    `chars` those characters; `words` jieba words (rjieba, no HMM) of 2+ characters of the
    characters joined; `jieba` every jieba token, prefixed `w_`; `bigrams` adjacent character
    pairs, prefixed `b_`. An empty line stays empty. `cuts`: `jieba_cuts(char_lines)`, when
    several views need them."""
    kinds = parse_view(view)
    if kinds == ("chars",):
        return list(char_lines)
    if cuts is None and ("words" in kinds or "jieba" in kinds):
        cuts = jieba_cuts(char_lines)
    words, jieba, chars_, bigrams = (k in kinds for k in VIEW_TOKENS)
    join = " ".join
    out = []
    for n, line in enumerate(char_lines):
        if not line:
            out.append("")
            continue
        parts = []
        if words:
            toks = cuts[n]
            parts.append(join(compress(toks, map(_ONE.__lt__, map(len, toks)))))  # len(w) > 1, in C
        if jieba:
            parts.append("w_" + " w_".join(cuts[n]))
        if chars_:
            parts.append(line)
        if bigrams:
            chars = line[::2]  # the characters: every other code point of the line
            if len(chars) > 1:
                parts.append("b_" + " b_".join(map(str.__add__, chars, chars[1:])))
        out.append(join([p for p in parts if p]))
    return out


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
    """A fastText topic model (or several, each reading its own view of the head, their label
    probabilities averaged) with its taxonomy, head length and confidence threshold.

    `model` is one fastText model (reading `chars`) or a list of (model, view) pairs; the
    first model's labels are the labels of all."""

    def __init__(self, model, taxonomy: Taxonomy, head_chars: int = 200, min_score: float = 0.5,
                 path: str | None = None, chinese_only: bool = True):
        self.members = [(m, parse_view(v) and v) for m, v in model] if isinstance(model, (list, tuple)) \
            else [(model, "chars")]
        self.model = self.members[0][0]
        self.chinese_only = bool(chinese_only)
        self.taxonomy = taxonomy
        self.head_chars = int(head_chars)
        self.min_score = float(min_score)
        self.path = path
        self.fallback = taxonomy.fallback
        self.topics = taxonomy.topics
        self._labels = list(self.model.get_labels())
        for m, _ in self.members:
            if sorted(m.get_labels()) != sorted(self._labels):
                raise ValueError("the models of an ensemble must have the same labels")
        self._topic = {label: taxonomy.topic_of(label[len(LABEL_PREFIX):]) for label in self._labels}
        self._names = list(dict.fromkeys(self._topic.values()))
        self._to_topic = np.zeros((len(self._labels), len(self._names)))
        for i, label in enumerate(self._labels):
            self._to_topic[i, self._names.index(self._topic[label])] = 1.0

    @classmethod
    def load(cls, model_path: str, taxonomy_path: str, head_chars: int = 200,
             min_score: float = 0.5) -> "TopicClassifier":
        """Paths may be relative to the project directory (corpus.config.project_path). The
        report.json beside the model names the ensemble's other model files and the view each
        model reads (`input.views`); without one the model reads `chars`."""
        import fasttext

        from corpus.config import project_path

        path = str(project_path(model_path))
        chinese_only, views = True, None
        report = os.path.join(os.path.dirname(path), "report.json")
        if os.path.exists(report):
            with open(report, encoding="utf-8") as f:
                inp = json.load(f).get("input", {})
            chinese_only = inp.get("chinese_only", True)
            views = inp.get("views")
        if not views or os.path.basename(path) != views[0]["model"]:
            members = [(fasttext.load_model(path), "chars")]
        else:
            folder = os.path.dirname(path)
            members = [(fasttext.load_model(os.path.join(folder, v["model"])), v["features"]) for v in views]
        return cls(members, load_taxonomy(taxonomy_path), head_chars, min_score, path, chinese_only)

    def heads(self, titles: Sequence[str | None], texts: Sequence[str]) -> list[str]:
        if len(titles) != len(texts):
            raise ValueError(f"{len(titles)} titles but {len(texts)} texts")
        n = self.head_chars
        return [doc_head(t, x, n) for t, x in zip(titles, texts)]

    def head_probs(self, heads: Sequence[str], chinese_only: bool | None = None) -> np.ndarray:
        """Label probabilities (rows: heads, columns: the first model's labels, in its order):
        one model's as fastText gives them; of several, the mean of each model's probabilities
        scaled to sum 1 (ova's do not). A head without features (empty, or not Chinese for a
        Chinese-only model; `chinese_only` overrides the model's) has a row of zeros."""
        chars = features_many(heads, self.chinese_only if chinese_only is None else chinese_only)
        out = np.zeros((len(heads), len(self._labels)))
        nonempty = [i for i, line in enumerate(chars) if line]
        if not nonempty:
            return out
        col = {label: j for j, label in enumerate(self._labels)}
        views: dict[str, list[str]] = {}
        base = [chars[i] for i in nonempty]
        cuts = jieba_cuts(base) if any({"words", "jieba"} & set(parse_view(v)) for _, v in self.members) else None
        for model, view in self.members:
            if view not in views:
                views[view] = view_lines(base, view, cuts)
            labels, probs = model.predict(views[view], k=-1)
            p = np.zeros((len(nonempty), len(self._labels)))
            lens = [len(labs) for labs in labels]
            cols = np.fromiter(map(col.__getitem__, chain.from_iterable(labels)), dtype=np.intp, count=sum(lens))
            if min(lens) == max(lens) == len(self._labels):  # every label of every line: one 2-D scatter
                np.put_along_axis(p, cols.reshape(len(lens), -1), np.asarray(probs, dtype=np.float64), axis=1)
            else:
                p[np.repeat(np.arange(len(lens)), lens), cols] = np.fromiter(
                    chain.from_iterable(probs), dtype=np.float64, count=len(cols))
            if len(self.members) > 1:
                p /= np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
            out[nonempty] += p
        out /= len(self.members)
        return out

    def label_probs_heads(self, heads: Sequence[str], chinese_only: bool | None = None) -> list[dict[str, float]]:
        """Probability of each model label (`__label__` prefix dropped) per head; {} without features."""
        probs = self.head_probs(heads, chinese_only)
        k = len(LABEL_PREFIX)
        return [{lab[k:]: float(p) for lab, p in zip(self._labels, row)} if row.any() else {} for row in probs]

    def predict_heads(self, heads: Sequence[str], chinese_only: bool | None = None) -> tuple[list[str], list[float]]:
        """(topic, top probability) per head (see `predict`): a topic's probability is the sum
        of its labels'."""
        cells = self.head_probs(heads, chinese_only) @ self._to_topic
        best = cells.argmax(axis=1) if len(heads) else np.zeros(0, dtype=np.intp)
        top = np.minimum(cells[np.arange(len(heads)), best], 1.0)
        floor = self.min_score
        topics, scores = [], []
        for j, score, row in zip(best.tolist(), top.tolist(), cells):
            if not row.any():
                topics.append(self.fallback)
                scores.append(0.0)
            else:
                topics.append(self._names[j] if score >= floor else self.fallback)
                scores.append(score)
        return topics, scores

    def predict(self, titles: Sequence[str | None], texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """Topic names (the fallback below `min_score`) and top-topic probabilities of documents."""
        return self.predict_heads(self.heads(titles, texts))


_CLASSIFIERS: dict[tuple, TopicClassifier] = {}


def cached_classifier(model_path: str, taxonomy_path: str, head_chars: int = 200,
                      min_score: float = 0.5) -> TopicClassifier:
    """`TopicClassifier.load(...)`, once per Python process (Spark executors keep it)."""
    key = (str(model_path), str(taxonomy_path), int(head_chars), float(min_score))
    clf = _CLASSIFIERS.get(key)
    if clf is None:
        clf = _CLASSIFIERS[key] = TopicClassifier.load(*key)
    return clf
