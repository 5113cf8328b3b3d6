"""Rule-based quality filtering: the rules and their parameters (pure Python, no Spark).

A `RuleSet` (`corpus.quality.ruleset`; one YAML file per language under `rules/`) is an ordered list of `Rule`s. Each rule
is one decision with one name, which is also the drop reason. Judging a document is two steps:

1. `Rule.signals(doc)` measures numbers (`dict[str, float]`) for **every** rule, so the
   signals of a dropped document are complete and thresholds can be re-tuned later without
   recomputing anything;
2. `Rule.check(signals)` compares them with the rule's thresholds: `None` keeps the document,
   a short detail (`"cjk_share 0.12 < 0.30"`) drops it. The drop reason is the first failing
   rule in the declared order.

`Doc` (`corpus.quality.doc`) holds one document with lazily cached views (lines, paragraphs, words, code points and
character classes, n-gram hashes), so work shared by several rules is done once per document.
Rules never edit text: C4's line-level rules, for instance, become document signals (how much
of the document C4 would keep) and the document-level decision C4 takes on what is left.

Words. For space-separated languages `Doc.words` are runs of letters and digits (an apostrophe
inside a word is kept: "don't"); punctuation is never a word. Chinese has no spaces, so the zh
rules measure characters instead: lengths count non-space characters, n-gram repetition runs
over the sequence of CJK ideographs (`unit: cjk`). jieba is not used by any rule: character
statistics are faster and need no dictionary, and no zh rule needs word boundaries.

YAML (see `rules/zh.yaml`)::

    langs: [zh]                 # languages this set serves (default: the file name)
    rules:                      # ordered; key = rule name = drop reason
      min_length: {min_chars: 100}
      dup_lines: {max_frac: 0.3, max_char_frac: 0.2}
      line_punct: false         # a rule can be listed and switched off
    overrides:                  # per document `source`: parameter changes, or false
      forums:
        min_length: {min_chars: 10}

Unknown rules or parameters, wrong types and out-of-range values raise `ConfigError` naming the
file, the rule key and the value. Word lists (keyword rules, URL block lists) are given inline or
as a path to a text file relative to the YAML file (format: `corpus.quality.terms.load_terms`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from corpus.config import RULES_DIR, ConfigError
from corpus.quality.doc import ALPHA_TOKEN, CJK, DIGIT, OTHER, PUNCT, SYMBOL, Doc
from corpus.quality.terms import Matcher, Terms, load_terms

# --------------------------------------------------------------------------------- params

@dataclass(frozen=True)
class Param:
    """A rule parameter: kind, default, bounds. Kinds: int, float, bool, str (one of `choices`
    when given), regex, strs (a string or list of strings -> tuple), terms (a word list, see
    `load_terms`), ngram_fracs (mapping n -> fraction). `null` switches a threshold off where
    the parameter is `nullable`."""

    kind: str
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    nullable: bool = False
    required: bool = False
    help: str = ""

    def parse(self, value: Any, where: str, base_dir: Path) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{where}: a value is required, got null")
        kind = self.kind
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or (kind == "int" and not float(value).is_integer()) \
                    or (isinstance(value, float) and not math.isfinite(value)):
                raise ConfigError(f"{where}: expected {'an integer' if kind == 'int' else 'a number'}"
                                  f"{self._range()}, got {value!r}")
            value = int(value) if kind == "int" else float(value)
            self._check_range(value, where)
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            return value
        if kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                expected = f"one of {', '.join(self.choices)}" if self.choices else "a string"
                raise ConfigError(f"{where}: expected {expected}, got {value!r}")
            return value
        if kind == "regex":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: expected a regular expression, got {value!r}")
            try:
                re.compile(value)
            except re.error as e:
                raise ConfigError(f"{where}: bad regular expression {value!r}: {e}") from None
            return value
        if kind == "strs":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not items \
                    or not all(isinstance(s, str) and s for s in items):
                raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")
            return tuple(items)
        if kind == "terms":
            return load_terms(value, base_dir, where)
        if kind == "ngram_fracs":
            if not isinstance(value, Mapping) or not value:
                raise ConfigError(f"{where}: expected a mapping n: fraction, got {value!r}")
            out = {}
            for n, frac in value.items():
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 50:
                    raise ConfigError(f"{where}: n-gram size must be an integer 1..50, got {n!r}")
                if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1:
                    raise ConfigError(f"{where}.{n}: expected a number between 0 and 1, got {frac!r}")
                out[n] = float(frac)
            return dict(sorted(out.items()))
        raise AssertionError(kind)

    def _range(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f" between {self.lo:g} and {self.hi:g}"
        if self.lo is not None:
            return f" >= {self.lo:g}"
        if self.hi is not None:
            return f" <= {self.hi:g}"
        return ""

    def _check_range(self, value: float, where: str) -> None:
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ConfigError(f"{where}: expected a number{self._range()}, got {value!r}")


def frac(default: float | None, help: str = "") -> Param:
    """A fraction threshold in [0, 1]; null switches it off."""
    return Param("float", default, lo=0.0, hi=1.0, nullable=True, help=help)


# ---------------------------------------------------------------------------------- rules

RULES: dict[str, type[Rule]] = {}


class Rule:
    """One decision. Subclasses declare `name` (the drop reason and YAML key) and `params`
    (name -> Param); parameter values become attributes. `signals(doc)` measures, `check`
    decides: None keeps, a short detail drops."""

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name:
            RULES[cls.name] = cls

    def __init__(self, **values):
        for key, param in self.params.items():
            setattr(self, key, values.get(key, param.default))
        self.config = {k: values.get(k, p.default) for k, p in self.params.items()}

    @classmethod
    def from_config(cls, raw: Any, where: str, base_dir: Path, base: Mapping | None = None) -> Rule:
        """Build from a YAML value (mapping of params, or null for defaults); `base` holds the
        already parsed values an override starts from."""
        if raw is None or raw is True:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a mapping of parameters (or false), got {raw!r}")
        values = dict(base or {})
        for key, value in raw.items():
            if key not in cls.params:
                known = ", ".join(cls.params) or "none"
                raise ConfigError(f"{where}: unknown parameter {key!r} (known: {known})")
            values[key] = cls.params[key].parse(value, f"{where}.{key}", base_dir)
        for key, param in cls.params.items():
            if key not in values:
                if param.required:
                    raise ConfigError(f"{where}: parameter {key!r} is required")
                values[key] = param.default
        return cls(**values)

    @classmethod
    def create(cls, base_dir: str | Path = RULES_DIR, **params) -> Rule:
        """A rule from Python, validated like YAML (`MinLength.create(min_chars=50)`)."""
        return cls.from_config(params, cls.name or cls.__name__, Path(base_dir))

    def signals(self, doc: Doc) -> dict[str, float]:
        raise NotImplementedError

    def check(self, s: Mapping[str, float]) -> str | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def _below(s: Mapping[str, float], key: str, limit, fmt: str = ".2f") -> str | None:
    if limit is not None and s[key] < limit:
        return f"{key} {s[key]:{fmt}} < {limit:{fmt}}"
    return None


def _above(s: Mapping[str, float], key: str, limit, fmt: str = ".2f") -> str | None:
    if limit is not None and s[key] > limit:
        return f"{key} {s[key]:{fmt}} > {limit:{fmt}}"
    return None


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


# -- URL block list ---------------------------------------------------------------------

class BlockedUrl(Rule):
    """The URL's host is (a subdomain of) a blocked domain, or the lowercased URL contains a
    blocked pattern. Signal `url_blocked`: 1-based index of the first matching entry (domains
    first, then patterns), 0 when none matches."""

    name = "blocked_url"
    params: ClassVar[dict[str, Param]] = {
        "domains": Param("terms", default=(), help="domains; subdomains match too"),
        "patterns": Param("terms", default=(), help="URL substrings or re: regexes"),
    }

    def __init__(self, **values):
        super().__init__(**values)
        self._entries: list[str] = []
        self._domains: dict[str, int] = {}
        for d, _ in self._literals(self.domains):
            d = d.strip(".").removeprefix("www.")
            if d and d not in self._domains:
                self._entries.append(d)
                self._domains[d] = len(self._entries)
        self._substrings: list[tuple[str, int]] = []
        for p, _ in self._literals(self.patterns):
            self._entries.append(p)
            self._substrings.append((p, len(self._entries)))
        self._regexes: list[tuple[re.Pattern, int]] = []
        for p, _ in (self.patterns.patterns if isinstance(self.patterns, Terms) else ()):
            self._entries.append(f"re:{p}")
            self._regexes.append((re.compile(p), len(self._entries)))

    @staticmethod
    def _literals(terms) -> tuple:
        return terms.literals if isinstance(terms, Terms) else tuple((t.lower(), 1.0) for t in terms)

    def signals(self, doc):
        return {"url_blocked": float(self._match(doc.url))}

    def _match(self, url: str | None) -> int:
        if not url:
            return 0
        low = url.lower()
        if self._domains:
            try:
                host = urlsplit(low).hostname or ""
            except ValueError:
                host = ""
            labels = host.split(".")
            for i in range(len(labels) - 1):
                hit = self._domains.get(".".join(labels[i:]))
                if hit:
                    return hit
        for sub, idx in self._substrings:
            if sub in low:
                return idx
        for regex, idx in self._regexes:
            if regex.search(low):
                return idx
        return 0

    def check(self, s):
        idx = int(s["url_blocked"])
        if idx:
            return f"url matches {self._entries[idx - 1]!r}"
        return None


# -- keyword density ----------------------------------------------------------------------

class KeywordDensity(Rule):
    """Weighted hits of a word list in the lowercased title + text, per 1,000 non-space
    characters. Drops when hits >= `min_hits` and hits per 1,000 chars > `max_per_1k`
    (`min_hits` keeps one stray mention in a short text from deciding alone).
    Signals: `<name>_hits` (weighted), `<name>_per_1k`."""

    params: ClassVar[dict[str, Param]] = {
        "terms": Param("terms", required=True, help="word list: path or inline"),
        "max_per_1k": Param("float", 3.0, lo=0.0, help="weighted hits per 1,000 chars"),
        "min_hits": Param("float", 2.0, lo=0.0, help="weighted hits needed before dropping"),
        "scan_title": Param("bool", True, help="scan the title too"),
    }

    def __init__(self, **values):
        super().__init__(**values)
        self._matcher = Matcher(self.terms) if isinstance(self.terms, Terms) else None
        self._hits_key = f"{self.name}_hits"
        self._density_key = f"{self.name}_per_1k"

    def signals(self, doc):
        text = doc.keyword_text if self.scan_title else doc.lower
        _, score = self._matcher.count(text) if self._matcher else (0, 0.0)
        chars = doc.n_chars + (len("".join(doc.title.split())) if self.scan_title and doc.title else 0)
        return {self._hits_key: score, self._density_key: _ratio(1000.0 * score, chars)}

    def matches(self, doc: Doc) -> list[str]:
        """The matched strings, in order (for inspecting a drop; not used to judge)."""
        text = doc.keyword_text if self.scan_title else doc.lower
        return self._matcher.matches(text) if self._matcher else []

    def check(self, s):
        hits, density = s[self._hits_key], s[self._density_key]
        if hits >= self.min_hits and density > self.max_per_1k:
            return f"{self._density_key} {density:.1f} > {self.max_per_1k:g} ({hits:g} weighted hits)"
        return None


class Gambling(KeywordDensity):
    name = "gambling"


class Porn(KeywordDensity):
    name = "porn"


class AdsSpam(KeywordDensity):
    name = "ads_spam"


# -- length and composition ----------------------------------------------------------------

class MinLength(Rule):
    """Too little text: fewer than `min_chars` non-space characters (signal `chars`)."""

    name = "min_length"
    params: ClassVar[dict[str, Param]] = {"min_chars": Param("int", 100, lo=0)}

    def signals(self, doc):
        return {"chars": float(doc.n_chars)}

    def check(self, s):
        return _below(s, "chars", self.min_chars, ".0f")


class WordCount(Rule):
    """Gopher: between 50 and 100,000 words (signal `words`)."""

    name = "word_count"
    params: ClassVar[dict[str, Param]] = {
        "min_words": Param("int", 50, lo=0, nullable=True),
        "max_words": Param("int", 100_000, lo=0, nullable=True)}

    def signals(self, doc):
        return {"words": float(len(doc.words))}

    def check(self, s):
        return _below(s, "words", self.min_words, ".0f") or _above(s, "words", self.max_words, ".0f")


class MeanWordLength(Rule):
    """Gopher: mean word length in characters between 3 and 10 (signal `mean_word_len`)."""

    name = "mean_word_length"
    params: ClassVar[dict[str, Param]] = {
        "min": Param("float", 3.0, lo=0, nullable=True),
        "max": Param("float", 10.0, lo=0, nullable=True)}

    def signals(self, doc):
        words = doc.words
        return {"mean_word_len": _ratio(sum(map(len, words)), len(words))}

    def check(self, s):
        return _below(s, "mean_word_len", self.min) or _above(s, "mean_word_len", self.max)


class SymbolRatio(Rule):
    """Gopher: '#' and ellipses ('...', '…') per word, each at most 0.1 (signals `hash_ratio`,
    `ellipsis_ratio`)."""

    name = "symbol_ratio"
    params: ClassVar[dict[str, Param]] = {"max": Param("float", 0.1, lo=0, nullable=True)}

    def signals(self, doc):
        n = len(doc.words)
        text = doc.text
        return {"hash_ratio": _ratio(text.count("#"), n),
                "ellipsis_ratio": _ratio(text.count("...") + text.count("…"), n)}

    def check(self, s):
        return _above(s, "hash_ratio", self.max) or _above(s, "ellipsis_ratio", self.max)


BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "◆", "◇", "►", "▸", "▶", "▹", "★", "☆",
           "·", "・", "‣", "⁃", "✓", "✔", "√", "-", "–", "*", "+")


class BulletLines(Rule):
    """Gopher: at most 90% of lines start with a bullet (signal `bullet_line_frac`)."""

    name = "bullet_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.9), "bullets": Param("strs", BULLETS)}

    def signals(self, doc):
        lines = doc.lines
        return {"bullet_line_frac": _ratio(sum(map(self._starts, lines)), len(lines))}

    def _starts(self, line: str) -> bool:
        return line.startswith(self.bullets)

    def check(self, s):
        return _above(s, "bullet_line_frac", self.max_frac)


class EllipsisLines(Rule):
    """Gopher: at most 30% of lines end with an ellipsis (signal `ellipsis_line_frac`)."""

    name = "ellipsis_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.3), "marks": Param("strs", ("...", "…"))}

    def signals(self, doc):
        lines = doc.lines
        marks = self.marks
        return {"ellipsis_line_frac": _ratio(sum(1 for s in lines if s.endswith(marks)), len(lines))}

    def check(self, s):
        return _above(s, "ellipsis_line_frac", self.max_frac)


class AlphaWords(Rule):
    """Gopher: at least 80% of (whitespace-separated) words contain a letter (signal
    `alpha_word_frac`). Punctuation glued to a word does not make it a separate non-word, as it
    would with a tokenizer that splits punctuation off."""

    name = "alpha_words"
    params: ClassVar[dict[str, Param]] = {"min_frac": frac(0.8)}

    def signals(self, doc):
        return {"alpha_word_frac": _ratio(len(ALPHA_TOKEN.findall(doc.text)), doc.word_tokens)}

    def check(self, s):
        return _below(s, "alpha_word_frac", self.min_frac)


class StopWords(Rule):
    """Gopher: at least 2 distinct of the stop words the, be, to, of, and, that, have, with
    (signal `stop_words`, distinct stop words present)."""

    name = "stop_words"
    params: ClassVar[dict[str, Param]] = {
        "min_count": Param("int", 2, lo=0),
        "words": Param("strs", ("the", "be", "to", "of", "and", "that", "have", "with"))}

    def __init__(self, **values):
        super().__init__(**values)
        self._stop = frozenset(w.lower() for w in self.words)

    def signals(self, doc):
        present = {w.lower() for w in set(doc.words)} & self._stop
        return {"stop_words": float(len(present))}

    def check(self, s):
        return _below(s, "stop_words", self.min_count, ".0f")


class CjkShare(Rule):
    """Share of CJK ideographs among non-space characters (signal `cjk_share`)."""

    name = "cjk_share"
    params: ClassVar[dict[str, Param]] = {"min": frac(0.3)}

    def signals(self, doc):
        return {"cjk_share": _ratio(float(doc.class_counts[CJK]), doc.n_chars)}

    def check(self, s):
        return _below(s, "cjk_share", self.min)


class PunctShare(Rule):
    """Share of punctuation, symbols and other non-text characters (controls, private use,
    unassigned) among non-space characters (signal `punct_share`)."""

    name = "punct_share"
    params: ClassVar[dict[str, Param]] = {"max": frac(0.3)}

    def signals(self, doc):
        c = doc.class_counts
        return {"punct_share": _ratio(float(c[PUNCT] + c[SYMBOL] + c[OTHER]), doc.n_chars)}

    def check(self, s):
        return _above(s, "punct_share", self.max)


class DigitShare(Rule):
    """Share of digits among non-space characters (signal `digit_share`)."""

    name = "digit_share"
    params: ClassVar[dict[str, Param]] = {"max": frac(0.35)}

    def signals(self, doc):
        return {"digit_share": _ratio(float(doc.class_counts[DIGIT]), doc.n_chars)}

    def check(self, s):
        return _above(s, "digit_share", self.max)


class MeanLineLength(Rule):
    """Mean length of the non-empty lines in characters (signal `mean_line_len`)."""

    name = "mean_line_length"
    params: ClassVar[dict[str, Param]] = {"min_chars": Param("float", 10.0, lo=0, nullable=True)}

    def signals(self, doc):
        lines = doc.lines
        return {"mean_line_len": _ratio(doc.line_dups[2], len(lines))}

    def check(self, s):
        return _below(s, "mean_line_len", self.min_chars, ".1f")


# -- lines ----------------------------------------------------------------------------------

class LinePunct(Rule):
    """FineWeb: share of lines ending in terminal punctuation, at least 0.12 (signal
    `line_punct_frac`); `marks` are the line endings that count. Documents with fewer than
    `min_lines` lines are not judged (signal `lines` is kept): on one or two lines the share is
    all or nothing, and a one-paragraph text cut off by its source ("…［详细］") is not a list."""

    name = "line_punct"
    params: ClassVar[dict[str, Param]] = {
        "min_frac": frac(0.12), "marks": Param("strs", (".", "'", '"', "!", "?")),
        "min_lines": Param("int", 0, lo=0),
        "ignore_suffix": Param("regex", None, nullable=True,
                               help="regex of trailing link marks to look past")}

    def __init__(self, **values):
        super().__init__(**values)
        if self.ignore_suffix:
            self._suffix = re.compile(self.ignore_suffix)
            self._suffix_ends = tuple("]］】)）>》")

    def _ends(self, line: str) -> bool:
        if line.endswith(self.marks):
            return True
        if self.ignore_suffix and line.endswith(self._suffix_ends):
            return self._suffix.sub("", line).endswith(self.marks)
        return False

    def signals(self, doc):
        lines = doc.lines
        ends = self._ends
        return {"line_punct_frac": _ratio(sum(1 for s in lines if ends(s)), len(lines)),
                "lines": float(len(lines))}

    def check(self, s):
        if s["lines"] < self.min_lines:
            return None
        return _below(s, "line_punct_frac", self.min_frac)


class ShortLines(Rule):
    """FineWeb: share of lines at most `max_len` characters long, below 0.67 (signal
    `short_line_frac`)."""

    name = "short_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.67), "max_len": Param("int", 30, lo=1)}

    def signals(self, doc):
        lines = doc.lines
        n = self.max_len
        return {"short_line_frac": _ratio(sum(1 for s in lines if len(s) <= n), len(lines))}

    def check(self, s):
        return _above(s, "short_line_frac", self.max_frac)


class CharDupRatio(Rule):
    """FineWeb: characters in duplicated lines over all characters but newlines, below 0.01
    (signal `char_dup_ratio`)."""

    name = "char_dup_ratio"
    params: ClassVar[dict[str, Param]] = {"max": frac(0.01)}

    def signals(self, doc):
        return {"char_dup_ratio": _ratio(doc.line_dups[1], len(doc.text) - doc.text.count("\n"))}

    def check(self, s):
        return _above(s, "char_dup_ratio", self.max, ".3f")


class ListRatio(Rule):
    """FineWeb: newlines per word at most 0.3 (signal `newline_word_ratio`)."""

    name = "list_ratio"
    params: ClassVar[dict[str, Param]] = {"max": Param("float", 0.3, lo=0, nullable=True)}

    def signals(self, doc):
        return {"newline_word_ratio": _ratio(doc.text.count("\n"), len(doc.words))}

    def check(self, s):
        return _above(s, "newline_word_ratio", self.max)


# -- repetition (Gopher) ---------------------------------------------------------------------

class DupLines(Rule):
    """Gopher: duplicate lines at most 30% of lines and 20% of line characters (signals
    `dup_line_frac`, `dup_line_char_frac`)."""

    name = "dup_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.3), "max_char_frac": frac(0.2)}

    def signals(self, doc):
        n, chars, total = doc.line_dups
        return {"dup_line_frac": _ratio(n, len(doc.lines)), "dup_line_char_frac": _ratio(chars, total)}

    def check(self, s):
        return _above(s, "dup_line_frac", self.max_frac) or \
            _above(s, "dup_line_char_frac", self.max_char_frac)


class DupParagraphs(Rule):
    """Gopher: duplicate paragraphs (blocks between blank lines) at most 30% of paragraphs and
    20% of paragraph characters (signals `dup_para_frac`, `dup_para_char_frac`)."""

    name = "dup_paragraphs"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.3), "max_char_frac": frac(0.2)}

    def signals(self, doc):
        n, chars, total = doc.paragraph_dups
        return {"dup_para_frac": _ratio(n, len(doc.paragraphs)),
                "dup_para_char_frac": _ratio(chars, total)}

    def check(self, s):
        return _above(s, "dup_para_frac", self.max_frac) or \
            _above(s, "dup_para_char_frac", self.max_char_frac)


UNITS = ("words", "cjk")


class _NgramFractions(Rule):
    """Shared by the Gopher n-gram rules: one signal `<kind>_<n>gram_char_frac` per n, judged
    against `max_frac[n]`. Documents with fewer than `min_units` units are not judged (the
    signals are still kept): on a dozen characters one repeated pair is already a large share."""

    kind: ClassVar[str]

    def signals(self, doc):
        ng = doc.ngrams(self.unit)
        measure = ng.top_char_frac if self.kind == "top" else ng.dup_char_frac
        out = {f"{self.kind}_{n}gram_char_frac": measure(n) for n in self.max_frac}
        out[f"{self.unit}_units"] = float(ng.n_units)
        return out

    def check(self, s):
        if s[f"{self.unit}_units"] < self.min_units:
            return None
        for n, limit in self.max_frac.items():
            detail = _above(s, f"{self.kind}_{n}gram_char_frac", limit)
            if detail:
                return detail
        return None


class TopNgrams(_NgramFractions):
    """Gopher: the most frequent n-gram covers at most this share of the characters, per n
    (signals `top_<n>gram_char_frac`). `unit`: words, or cjk (ideographs, for Chinese)."""

    name = "top_ngrams"
    kind = "top"
    params: ClassVar[dict[str, Param]] = {
        "max_frac": Param("ngram_fracs", {2: 0.20, 3: 0.18, 4: 0.16}),
        "unit": Param("str", "words", choices=UNITS),
        "min_units": Param("int", 0, lo=0)}


class DupNgrams(_NgramFractions):
    """Gopher: characters covered by repeated n-grams at most this share, per n (signals
    `dup_<n>gram_char_frac`). See `TopNgrams` for `unit`."""

    name = "dup_ngrams"
    kind = "dup"
    params: ClassVar[dict[str, Param]] = {
        "max_frac": Param("ngram_fracs", {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11,
                                          10: 0.10}),
        "unit": Param("str", "words", choices=UNITS),
        "min_units": Param("int", 0, lo=0)}


# -- C4 ----------------------------------------------------------------------------------------

C4_END = (".", "?", "!", '"', "'", "”", "’")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
             "use cookies")
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


@dataclass(frozen=True)
class _C4Scan:
    lines: int           # non-empty lines
    kept: int            # lines C4 keeps
    sentences: int       # sentences in the kept lines
    lorem_ipsum: bool
    curly_bracket: bool


def _c4_scan(doc: Doc) -> _C4Scan:
    """C4's line pass (T5 paper, section 2.2, and the TFDS reference code): a line is kept when,
    after removing Wikipedia citation marks, it ends in terminal punctuation (not an ellipsis),
    has at least 3 words, no word over 1,000 characters, and does not mention "javascript" or a
    cookie/terms-of-use phrase. "lorem ipsum" or "{" in a line that reached those last checks
    condemns the page. We extend the terminal marks with curly quotes (”’)."""
    kept = sentences = 0
    lorem = curly = False
    lines = doc.lines
    for line in lines:
        if "[" in line:
            line = _CITATION.sub("", line).rstrip()
        if not line.endswith(C4_END) or line.endswith("..."):
            continue
        words = line.split()
        if len(words) < 3 or max(map(len, words)) > 1000:
            continue
        low = line.lower()
        if "lorem ipsum" in low:
            lorem = True
        if "javascript" in low:
            continue
        if "{" in line:
            curly = True
        if any(p in low for p in C4_POLICY):
            continue
        kept += 1
        sentences += max(1, len(_SENTENCE_END.findall(line)))
    return _C4Scan(len(lines), kept, sentences, lorem, curly)


class LoremIpsum(Rule):
    """C4: "lorem ipsum" placeholder text (signal `lorem_ipsum`, 0/1)."""

    name = "lorem_ipsum"
    params: ClassVar[dict[str, Param]] = {}

    def signals(self, doc):
        return {"lorem_ipsum": float(doc.memo("c4", lambda: _c4_scan(doc)).lorem_ipsum)}

    def check(self, s):
        return "contains 'lorem ipsum'" if s["lorem_ipsum"] else None


class CurlyBracket(Rule):
    """C4: a curly bracket, a sign of code (signal `curly_bracket`, 0/1)."""

    name = "curly_bracket"
    params: ClassVar[dict[str, Param]] = {}

    def signals(self, doc):
        return {"curly_bracket": float(doc.memo("c4", lambda: _c4_scan(doc)).curly_bracket)}

    def check(self, s):
        return "contains '{'" if s["curly_bracket"] else None


class TooFewSentences(Rule):
    """C4: at least 5 sentences in the lines C4 keeps (signals `c4_sentences`,
    `c4_line_keep_frac`). C4 also deletes the lines it does not keep; we never edit text, so
    `min_line_keep_frac` (off by default) can drop documents that are mostly such lines."""

    name = "too_few_sentences"
    params: ClassVar[dict[str, Param]] = {
        "min_sentences": Param("int", 5, lo=0),
        "min_line_keep_frac": frac(None)}

    def signals(self, doc):
        scan = doc.memo("c4", lambda: _c4_scan(doc))
        return {"c4_sentences": float(scan.sentences), "c4_line_keep_frac": _ratio(scan.kept, scan.lines)}

    def check(self, s):
        return _below(s, "c4_sentences", self.min_sentences, ".0f") or \
            _below(s, "c4_line_keep_frac", self.min_line_keep_frac)
