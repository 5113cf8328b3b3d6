"""The configuration schema: the type, range and choices of every key of `rules/pipeline.yaml`.

Defaults are not here: they live only in pipeline.yaml (a test checks that both have the same
keys). `SCHEMA.check(cfg, "")` raises `ConfigError("<dotted.key> must be <what>, got <value>")`
for the first unknown key, wrong type or value out of range; `corpus.config` prefixes the origin
(the file or the `--set` item). The rule sets (`rules.*`) are checked by `corpus.quality.ruleset`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the culprit."""


class Field:
    """A value's type; `nullable` admits null. `check(value, key)` raises or returns None."""

    def __init__(self, nullable: bool = False):
        self.nullable = nullable

    def check(self, value: Any, key: str) -> None:
        if value is None:
            if not self.nullable:
                raise ConfigError(f"{key} must be {self.describe()}, got null")
        elif not self.accepts(value):
            raise ConfigError(f"{key} must be {self.describe()}, got {value!r}")

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        return self.what() + (" or null" if self.nullable else "")

    def what(self) -> str:
        raise NotImplementedError


class Number(Field):
    """An integer (`integer=True`) or any number, within [lo, hi] where given."""

    def __init__(self, lo: float | None = None, hi: float | None = None, integer: bool = False,
                 nullable: bool = False):
        super().__init__(nullable)
        self.lo, self.hi, self.integer = lo, hi, integer

    def accepts(self, value: Any) -> bool:
        kinds = int if self.integer else (int, float)
        return (isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
                and (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi))

    def what(self) -> str:
        noun = "an integer" if self.integer else "a number"
        if self.lo is not None and self.hi is not None:
            return f"{noun} between {self.lo:g} and {self.hi:g}"
        if self.lo is not None:
            return f"{noun} >= {self.lo:g}"
        if self.hi is not None:
            return f"{noun} <= {self.hi:g}"
        return noun


def Int(lo: int | None = None, hi: int | None = None, nullable: bool = False) -> Number:
    return Number(lo, hi, integer=True, nullable=nullable)


def Float(lo: float | None = None, hi: float | None = None, nullable: bool = False) -> Number:
    return Number(lo, hi, nullable=nullable)


def Share(nullable: bool = False) -> Number:
    """A fraction in [0, 1]."""
    return Number(0, 1, nullable=nullable)


class Bool(Field):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def what(self) -> str:
        return "true or false"


class Str(Field):
    """A string: one of `choices` where given; a valid regular expression with `regex`."""

    def __init__(self, choices: tuple[str, ...] = (), regex: bool = False, nullable: bool = False):
        super().__init__(nullable)
        self.choices, self.regex = choices, regex

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            return False
        if self.regex:
            try:
                re.compile(value)
            except re.error:
                return False
        return True

    def what(self) -> str:
        if self.choices:
            return "one of " + " | ".join(self.choices)
        return "a valid regular expression" if self.regex else "a string"


class Scalar(Field):
    """A string, number or boolean (Spark's own settings)."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (str, int, float, bool))

    def what(self) -> str:
        return "a string, number or boolean"


class Either(Field):
    """The first of `options` that accepts the value (e.g. `auto` or a block count)."""

    def __init__(self, *options: Field):
        super().__init__(any(o.nullable for o in options))
        self.options = options

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)

    def what(self) -> str:
        return " or ".join(o.what() for o in self.options)


class List(Field):
    """A list of `item`s."""

    def __init__(self, item: Field, nullable: bool = False):
        super().__init__(nullable)
        self.item = item

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list)

    def check(self, value: Any, key: str) -> None:
        super().check(value, key)
        for i, v in enumerate(value or ()):
            self.item.check(v, f"{key}[{i}]")

    def what(self) -> str:
        if isinstance(self.item, Str) and self.item.what() == "a string":
            return "a list of strings"
        return f"a list (each {self.item.what()})"


class Map(Field):
    """An open mapping: any string key, each value a `value`."""

    def __init__(self, value: Field):
        super().__init__()
        self.value = value

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)

    def check(self, value: Any, key: str) -> None:
        super().check(value, key)
        for k, v in value.items():
            self.value.check(v, f"{key}.{k}")

    def what(self) -> str:
        return f"a mapping (each value {self.value.what()})"


class Section(Field):
    """A mapping with exactly these keys (a file may give some of them; the merged config has
    all); `rule` checks the section as a whole and returns a complaint or None."""

    def __init__(self, fields: Mapping[str, Field],
                 rule: Callable[[Mapping], str | None] | None = None):
        super().__init__()
        self.fields, self.rule = dict(fields), rule

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def what(self) -> str:
        return "a mapping"

    def check(self, value: Any, key: str) -> None:
        super().check(value, key)
        for k, v in value.items():
            path = f"{key}.{k}" if key else str(k)
            if k not in self.fields:
                raise ConfigError(f"unknown key {path} (known: {', '.join(self.fields)})")
            self.fields[k].check(v, path)
        missing = [k for k in self.fields if k not in value]
        if missing:
            raise ConfigError(f"{key or 'the configuration'} lacks {', '.join(missing)}")
        complaint = self.rule(value) if self.rule else None
        if complaint:
            raise ConfigError(f"{key}.{complaint}" if key else complaint)

    def at(self, dotted: str) -> Field:
        """The field of a dotted key (`clean.langid`)."""
        node: Field = self
        for part in dotted.split("."):
            node = node.fields[part]  # type: ignore[attr-defined]
        return node


def _simhash(c: Mapping) -> str | None:
    if isinstance(c["blocks"], int) and not c["k"] < c["blocks"]:
        return f"blocks must exceed k ({c['k']}), got {c['blocks']}"
    return None


def _minhash(c: Mapping) -> str | None:
    b = c["bands"]
    if isinstance(b, list):
        if len(b) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in b):
            return f"bands must be auto or [bands, rows] (two integers >= 1), got {b!r}"
        if b[0] * b[1] > c["num_perm"]:
            return f"bands x rows must be <= num_perm ({c['num_perm']}), got {b[0]} x {b[1]}"
    return None


def _langid(c: Mapping) -> str | None:
    if c["min_chunk_chars"] > c["max_chunk_chars"]:
        return f"min_chunk_chars must be <= max_chunk_chars ({c['max_chunk_chars']}), got {c['min_chunk_chars']}"
    return None


def _decontaminate(c: Mapping) -> str | None:
    if c["min_tokens"] > c["n"]:
        return f"min_tokens must be <= n ({c['n']}), got {c['min_tokens']}"
    return None


def _balance(c: Mapping) -> str | None:
    bad = [k for k in c["shares"] if k.count("/") != 1 or not all(k.split("/"))]
    if bad:
        return f"shares.{bad[0]}: cells are named LANG/TOPIC (e.g. zh/finance)"
    for what in ("languages", "shares"):
        if sum(c[what].values()) > 1 + 1e-9:
            return f"{what} must sum to at most 1, got {sum(c[what].values()):g}"
    return None


STRS = List(Str())
FASTTEXT_FIELDS = {  # fastText training and quantization (quality.train, topics.train)
    "dim": Int(lo=1),
    "epoch": Int(lo=1),
    "lr": Float(lo=0),
    "wordNgrams": Int(lo=1),
    "minCount": Int(lo=1),
    "bucket": Int(lo=0),
    "loss": Str(choices=("softmax", "ns", "hs", "ova")),
    "thread": Int(lo=1),
    "quantize": Bool(),
    "quantize_cutoff": Int(lo=0),
    "quantize_dsub": Int(lo=1),
    "quantize_retrain": Bool(),
}
RECORD_FIELDS = {  # the field mapping of jsonl and parquet inputs
    "text_field": Str(), "id_field": Str(nullable=True), "url_field": Str(nullable=True),
    "title_field": Str(nullable=True), "time_field": Str(nullable=True), "source": Str(),
    "source_field": Str(nullable=True),
}

SCHEMA = Section({
    "run": Section({"stages": STRS}),
    "spark": Section({"master": Str(), "app_name": Str(), "local_java_options": Str(nullable=True),
                      "conf": Map(Scalar())}),
    "dropped": Section({"keep_text": Bool()}),
    "ingest": Section({
        "batch_rows": Int(lo=1),
        "cc_prefix": Str(),
        "warc": Section({
            "reader": Str(choices=("fastwarc", "warcio")),
            "max_record_bytes": Int(lo=1),
            "max_replaced_share": Share(),
            "html_types": STRS,
            "extract": Section({  # corpus.ingest.extract
                "method": Str(choices=("blocks", "resiliparse", "trafilatura")),
                "min_block_chars": Int(lo=0),
                "short_block_chars": Int(lo=0),
                "max_link_density": Share(),
                "good_link_density": Share(),
                "near_weight": Float(lo=0),
                "short_penalty": Float(lo=0),
                "max_bad_penalty": Float(lo=0),
                "comments": Bool(),
                "skip": STRS,
            }),
        }),
        "books": Section({
            "chapter_pattern": Str(regex=True),
            "max_chars": Int(lo=1),
            "min_chars": Int(lo=0),
            "strip_gutenberg": Bool(),
            "unwrap_lines": Bool(),
            "max_replaced_share": Share(),
            "text_fields": STRS,
            "title_fields": STRS,
            "author_field": Str(),
        }),
        "news": Section({
            "text_tags": STRS, "title_tags": STRS, "url_tag": Str(), "id_tags": STRS,
            "paragraph_mark": Str(),
        }),
        "forums": Section({"turns_fields": STRS, "text_fields": STRS, "join_cjk_spaces": Bool()}),
        "jsonl": Section(RECORD_FIELDS),
        "parquet": Section(RECORD_FIELDS),
    }),
    "clean": Section({
        "languages": STRS,
        "rules_dir": Str(),
        "normalize": Section({
            "unicode": Bool(),
            "fix_mojibake": Bool(),
            "fullwidth_ascii": Bool(),
            "t2s": Bool(),
            "t2s_config": Str(),
            "whitespace": Bool(),
            "boilerplate": Bool(),
            "boilerplate_file": Str(),
            "boilerplate_lists": STRS,
            "boilerplate_max_chars": Int(lo=1),
        }),
        "langid": Section({
            "model": Str(nullable=True),
            "min_chunk_chars": Int(lo=1),
            "max_chunk_chars": Int(lo=1, hi=65535),
            "max_chunks": Int(lo=1),
            "zh_min_share": Share(),
            "script_cjk": Bool(),
            "script_min_share": Share(),
            "ja_min_kana": Share(),
            "ko_min_hangul": Share(),
            "aliases": Map(Str()),
        }, rule=_langid),
        "classifier": Section({
            "model": Str(nullable=True),
            "threshold": Share(),
            "apply_to_sources": STRS,
            "score_all": Bool(),
        }),
    }),
    "quality": Section({
        "train": Section({
            "max_tokens": Int(lo=1),
            "max_chunks_per_doc": Int(lo=1),
            "holdout": Share(),
            "seed": Int(),
            "balance": Bool(),
            "dropped_stage": Str(),
            "threshold": Share(),
            **FASTTEXT_FIELDS,
            "quantize_max_f1_drop": Share(),
        }),
    }),
    "topics": Section({
        "taxonomy": Str(),
        "model": Str(),
        "head_chars": Int(lo=0),
        "min_score": Share(),
        "train": Section({
            "thucnews": Str(),
            "sources": STRS,
            "max_per_source": Int(lo=0),
            "eval": Str(choices=("test", "dev_split")),
            "holdout": Share(),
            "seed": Int(),
            "pseudo_docs": Int(lo=0),
            "pseudo_titles": Int(lo=2),
            "eval_pseudo_docs": Int(lo=0),
            "target_precision": Share(),
            "news_eval": Str(),
            "views": STRS,
            **FASTTEXT_FIELDS,
        }),
    }),
    "dedup": Section({
        "exact": Section({"by_url": Bool()}),
        "simhash": Section({
            "k": Int(lo=0, hi=63),
            "shingle": Int(lo=1),
            "weights": Str(choices=("binary", "tf")),
            "min_features": Int(lo=0),
            "t2s": Bool(),
            "blocks": Either(Str(choices=("auto",)), Int(lo=1, hi=64)),
            "max_bucket": Int(lo=1),
        }, rule=_simhash),
        "near": Str(choices=("simhash", "minhash", "both")),
        "minhash": Section({
            "shingle": Int(lo=1),
            "word_shingle": Int(lo=1),
            "units": Str(choices=("words", "chars")),
            "num_perm": Int(lo=1, hi=4096),
            "seed": Int(lo=0, hi=2 ** 32 - 1),
            "scheme": Str(choices=("affine32", "legacy")),
            "hash": Str(choices=("fast", "sha1")),
            "threshold": Number(lo=0.01, hi=1),
            "bands": Either(Str(choices=("auto",)), List(Int(lo=1))),
            "fp_weight": Share(),
            "verify": Bool(),
            "min_shingles": Int(lo=0),
            "t2s": Bool(),
            "max_bucket": Int(lo=1),
        }, rule=_minhash),
        "checkpoint_dir": Str(nullable=True),
        "driver_edges": Int(lo=0),
        "driver_docs": Int(lo=0),
        "report_top_clusters": Int(lo=0),
        "report_examples": Int(lo=0),
    }),
    "decontaminate": Section({
        "registry": Str(),
        "root": Str(nullable=True),
        "on_missing": Str(choices=("warn", "error")),
        "n": Int(lo=1),
        "min_tokens": Int(lo=1),
        "action": Str(choices=("drop", "cut")),
        "cut": Section({"margin": Int(lo=0), "min_piece_chars": Int(lo=0), "max_pieces": Int(lo=0)}),
        "index_dir": Str(nullable=True),
        "report_examples": Int(lo=0),
        "context_chars": Int(lo=0),
    }, rule=_decontaminate),
    "balance": Section({
        "seed": Int(),
        "alpha": Float(lo=0),
        "languages": Map(Share()),
        "shares": Map(Share()),
        "max_repeat": Float(lo=1),
        "unit": Str(choices=("tokens", "bytes")),
        "output_size": Int(lo=1, nullable=True),
        "shard_size": Int(lo=1),
    }, rule=_balance),
    "tokenizer": Section({
        "stage": Str(nullable=True),
        "seed": Int(),
        "sample_chars": Int(lo=1),
        "vocab_size": Int(lo=1),
        "model_type": Str(choices=("bpe", "unigram")),
        "character_coverage": Share(),
        "split_digits": Bool(),
        "max_sentencepiece_length": Int(lo=1),
        "num_threads": Int(lo=1),
    }),
    "tokens": Section({
        "stage": Str(nullable=True),
        "tokenizer": Str(nullable=True),
        "seq_len": Int(lo=1),
        "seed": Int(),
        "shard_tokens": Int(lo=1),
        "validation_fraction": Share(),
    }),
})
