"""The clean stage's per-document work: normalize, identify the language, apply the rule set
of that language, score with the quality classifier; one outcome per document.

`Cleaner` loads everything once per Python worker (models, rule sets); `clean_batches` is the
function Spark maps over Arrow batches of the ingested table. Both take the `clean` section and
the `rules` section of the resolved configuration (`corpus.config.load_config`).
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from corpus.config import project_path
from corpus.outcomes import CHARS_IN
from corpus.quality.model import QualityModel
from corpus.quality.doc import Doc
from corpus.quality.ruleset import build_rulesets, pick_ruleset, read_rule_files
from corpus.schema import DOC_FIELDS
from corpus.text.langid import LanguageIdentifier
from corpus.text.normalize import Normalizer

CLEAN_DOC_SCHEMA = pa.schema(DOC_FIELDS + [
    pa.field("signals", pa.map_(pa.string(), pa.float64())),
    pa.field("quality_score", pa.float32()),
])
CLEAN_OUTCOME_SCHEMA = pa.schema(list(CLEAN_DOC_SCHEMA) + [
    pa.field("reason", pa.string()), pa.field("detail", pa.string()),
])


class Cleaner:
    """Everything the clean stage needs, loaded once. `rules` is the configuration's `rules`
    section (None: the rule files of `clean.rules_dir` as they are)."""

    def __init__(self, cfg: Mapping, rules: Mapping | None = None):
        self.cfg = cfg
        self.normalize = Normalizer(cfg["normalize"])
        self.langid = LanguageIdentifier(cfg["langid"])
        rules_dir = project_path(cfg["rules_dir"])
        self.rulesets = build_rulesets(read_rule_files(rules_dir) if rules is None else rules,
                                       rules_dir)
        clf = cfg["classifier"]
        self.model = QualityModel.load(str(project_path(clf["model"]))) if clf.get("model") else None
        self.languages = set(cfg["languages"])

    def clean(self, rows: list[dict]) -> list[dict]:
        """Outcomes (clean schema) for document rows (ingest schema), in order."""

        texts, counts = [], []
        for row in rows:
            text, c = self.normalize(row["text"])
            texts.append(text)
            counts.append(c)
        langs = self.langid.identify_many(texts)
        out = []
        for row, text, c, lang in zip(rows, texts, counts, langs):
            signals = {k: float(v) for k, v in c.items()}
            signals.update({f"lang_share_{k}": float(v) for k, v in lang.shares.items()})
            reason = detail = None
            if not text.strip():
                reason, detail = "empty_text", "nothing left after normalization"
            elif lang.lang not in self.languages:
                reason, detail = "language", f"{lang.lang} ({lang.score:.2f})"
            else:
                doc = Doc(text=text, lang=lang.lang, url=row.get("url"), title=row.get("title"),
                          source=row["source"])
                reason, detail, rule_signals = self._ruleset(lang.lang).apply(doc)
                signals.update(rule_signals)
            out.append({**row, "text": text, "lang": lang.lang, "lang_score": lang.score,
                        "signals": signals, "quality_score": None,
                        "reason": reason, "detail": detail})
        self._score(out)
        return out

    def _ruleset(self, lang: str):
        return pick_ruleset(self.rulesets, lang)

    def _score(self, out: list[dict]) -> None:
        """Quality scores for the documents of `apply_to_sources` that the rules kept (every
        document with `score_all`); a score below the threshold drops them as `low_quality`."""
        if self.model is None:
            return
        clf = self.cfg["classifier"]
        sources = set(clf.get("apply_to_sources") or [])
        todo = [o for o in out if clf.get("score_all")
                or (o["reason"] is None and o["source"] in sources)]
        if not todo:
            return
        scores = self.model.score_many([o["text"] for o in todo], [o["lang"] for o in todo])
        for o, s in zip(todo, scores):
            o["quality_score"] = float(s)
            if o["reason"] is None and o["source"] in sources and s < clf["threshold"]:
                o["reason"], o["detail"] = "low_quality", f"quality_score {s:.3f} < {clf['threshold']}"


_CLEANERS: dict[str, Cleaner] = {}


def cleaner_for(cfg: Mapping, rules: Mapping | None = None) -> Cleaner:
    """One Cleaner per configuration per Python worker (Spark reuses workers across tasks)."""
    key = json.dumps([cfg, rules], sort_keys=True, default=str)
    if key not in _CLEANERS:
        _CLEANERS[key] = Cleaner(cfg, rules)
    return _CLEANERS[key]


def clean_batches(batches: Iterable[pa.RecordBatch], cfg: Mapping,
                  rules: Mapping | None = None) -> Iterator[pa.RecordBatch]:
    """The clean stage over Arrow batches of documents: one outcome batch per input batch, with
    each document's characters as read (`chars_in`: normalization changes the text)."""
    cleaner = cleaner_for(cfg, rules)
    for batch in batches:
        rows = batch.to_pylist()
        for row in rows:
            row.pop("signals", None), row.pop("quality_score", None)
        out = pa.RecordBatch.from_pylist([_as_row(o) for o in cleaner.clean(rows)], schema=CLEAN_OUTCOME_SCHEMA)
        yield out.append_column(CHARS_IN, pc.utf8_length(batch.column("text")).cast(pa.int64()))


def _as_row(o: dict) -> dict:
    o["signals"] = sorted(o["signals"].items())
    return o
