"""The fastText quality classifier: P(high quality) for a document, and the job that trains it.

    tokenize(text, lang)               one line of tokens, the classifier's view of a document
    QualityModel.load(path)            a trained model (.ftz or .bin)
    QualityModel.score_many(texts, langs) -> [P(__label__hq)]
    train_quality(positive_specs, negative_specs, out_dir, cfg) -> report
    corpus train-quality --positive SPEC... --negative SPEC... --output DIR [--set KEY=VALUE]...

Tokens: Chinese text (lang "zh*", or mostly Han text, see `is_chinese`) is cut by jieba with
its dictionary only (HMM off: 1.6x faster, 420k vs 260k chars/s measured on a novel; words it
does not know fall apart into characters, which the word bigrams partly recover). Any other
text is split into lowercased words and punctuation marks (Han and kana characters of other
languages, e.g. Japanese, one token each). Digits become "0" (a phone number and a date become
shapes, not rare words), "__label__" is defused so no document can inject a label, and only
the first `max_tokens` tokens count, so a long book costs no more than a page.

Scoring inside a Spark task: `cached_model(path)` loads a model once per Python process.

Training reads documents with the ingest readers (`KIND:URI` specs, as `corpus run` takes)
or from a run directory's dropped table (`dropped:RUN_DIR`: RUN_DIR/dropped/clean/*.parquet,
optionally `dropped:RUN_DIR#reason1,reason2` to take only those drop reasons). Positives are
labelled `__label__hq`, negatives `__label__lq`. Long documents become several training lines
of `max_tokens` tokens (at most `max_chunks_per_doc`), which always stay together on one side
of the split. Exact duplicate lines are removed within a class; a line found in both classes is
removed from both. The larger class is down-sampled (seeded) to the size of the smaller one;
then each class is split train/held-out by a seeded hash of the document id (so the split does
not depend on input order). fastText trains with `thread: 1` (with more threads it is not
deterministic; and see `_fresh_pages_for_large_allocations` for the part of its input matrix
it leaves uninitialised), and the model is quantized to .ftz when that costs at most
`quantize_max_f1_drop` of held-out macro F1. The output folder gets `model.ftz` (or
`model.bin`) and `report.json`: counts, parameters, the exact specs, held-out precision /
recall / F1 per class and overall, and the model's sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

LABEL_HQ = "__label__hq"
LABEL_LQ = "__label__lq"
MODEL_NAMES = ("model.ftz", "model.bin")
TOKENIZER_VERSION = 1

# Training parameters: `quality.train.*` (from rules/pipeline.yaml when it has that section,
# else these), each overridable with `--set quality.train.KEY=VALUE`.
TRAIN_DEFAULTS = {
    "max_tokens": 1000,          # tokens of a document the classifier reads (also at scoring)
    "max_chunks_per_doc": 20,    # training lines one long document may give
    "holdout": 0.2,              # held-out share of each class (by document)
    "seed": 1,                   # balance, split and fastText's own seed
    "balance": True,             # down-sample the larger class to the smaller
    "dropped_stage": "clean",    # `dropped:RUN_DIR` reads RUN_DIR/dropped/<this stage>
    "threshold": 0.5,            # P(hq) at or above which held-out lines count as hq
    # fastText (supervised)
    "dim": 64,
    "epoch": 20,
    "lr": 0.3,
    "wordNgrams": 2,
    "minCount": 1,
    "bucket": 200000,            # bucket * dim >= 32768 (see _fresh_pages_for_large_allocations)
    "loss": "softmax",
    "thread": 1,                 # more threads train faster but not reproducibly
    # quantization to .ftz
    "quantize": True,
    "quantize_cutoff": 20000,    # words+ngram buckets kept (0: all); raise it for big training sets
    "quantize_dsub": 2,
    "quantize_retrain": True,
    "quantize_max_f1_drop": 0.01,
}
_FASTTEXT_KEYS = ("dim", "epoch", "lr", "wordNgrams", "minCount", "bucket", "loss", "thread")

# --- tokenization ------------------------------------------------------------------------

_HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_KANA_RANGES = "\u3040-\u30ff\u31f0-\u31ff"
_HAN = re.compile(f"[{_HAN_RANGES}]")
_KANA = re.compile(f"[{_KANA_RANGES}]")
_CJK_CHAR = re.compile(f"[{_HAN_RANGES}{_KANA_RANGES}]")
_OTHER_WORD = re.compile(f"(?:(?![{_HAN_RANGES}{_KANA_RANGES}])[^\\W\\d_])+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]|_+")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
_ZH_CHARS_PER_TOKEN = 3    # text cut before tokenizing: enough for max_tokens tokens
_OTHER_CHARS_PER_TOKEN = 8
_jieba = None


def _get_jieba():
    global _jieba
    if _jieba is None:
        import logging

        import jieba

        jieba.setLogLevel(60)
        logging.getLogger("jieba").setLevel(60)
        jieba.initialize()
        _jieba = jieba
    return _jieba


def is_chinese(text: str, lang: str | None = None) -> bool:
    """Lang "zh"/"zh-*"/"zho"/"cmn" and the like, or (any lang) text that is mostly Han in its
    first 2,000 characters: at least one Han character per word of other letters, and kana
    under a tenth of the Han+kana (not Japanese)."""
    if lang and lang.lower().split("-")[0].split("_")[0] in ("zh", "zho", "chi", "cmn", "yue", "wuu"):
        return True
    head = text[:2000]
    han = len(_HAN.findall(head))
    if not han:
        return False
    kana = len(_KANA.findall(head))
    return kana * 10 < han + kana and han >= len(_OTHER_WORD.findall(head))


def tokens(text: str, lang: str | None = None, max_tokens: int | None = TRAIN_DEFAULTS["max_tokens"]
           ) -> list[str]:
    """The classifier's tokens of a document (see the module docstring); `max_tokens` None
    keeps them all."""
    zh = is_chinese(text, lang)
    if max_tokens is not None:
        text = text[:max_tokens * (_ZH_CHARS_PER_TOKEN if zh else _OTHER_CHARS_PER_TOKEN)]
    text = _DIGIT.sub("0", text.lower())
    if zh:
        raw = _get_jieba().lcut(text, HMM=False)
        out = [t for t in (_SPACE.sub("", w) for w in raw) if t]
    else:  # CJK characters of other languages (Japanese) become one token each
        out = _WORD.findall(_CJK_CHAR.sub(r" \g<0> ", text))
    out = [t.replace("__label__", "_label_") if "__label__" in t else t for t in out]
    return out[:max_tokens] if max_tokens is not None else out


def tokenize(text: str, lang: str | None = None, max_tokens: int = TRAIN_DEFAULTS["max_tokens"]) -> str:
    """One line (no newline) of at most `max_tokens` space-separated tokens."""
    return " ".join(tokens(text, lang, max_tokens))


# --- the model ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    """A training document: `label` "hq" or "lq"; `group` keeps a document's pieces together."""
    id: str
    label: str
    text: str
    lang: str | None = None
    group: str | None = None


class QualityModel:
    """A fastText model with the tokenizer settings it was trained with."""

    def __init__(self, model, max_tokens: int = TRAIN_DEFAULTS["max_tokens"], path: str | None = None):
        self.model = model
        self.max_tokens = int(max_tokens)
        self.path = path

    @classmethod
    def load(cls, path: str, max_tokens: int | None = None) -> "QualityModel":
        """A model file; its tokenizer settings come from `report.json` beside it when there
        is one (else the defaults). A folder means its model.ftz or model.bin."""
        import fasttext

        if os.path.isdir(path):
            for name in MODEL_NAMES:
                if os.path.exists(os.path.join(path, name)):
                    path = os.path.join(path, name)
                    break
            else:
                raise FileNotFoundError(f"{path}: no {' or '.join(MODEL_NAMES)}")
        if max_tokens is None:
            max_tokens = TRAIN_DEFAULTS["max_tokens"]
            report = os.path.join(os.path.dirname(path), "report.json")
            if os.path.exists(report):
                with open(report, encoding="utf-8") as f:
                    max_tokens = json.load(f).get("tokenizer", {}).get("max_tokens", max_tokens)
        model = fasttext.load_model(path)
        labels = set(model.get_labels())
        if LABEL_HQ not in labels:
            raise ValueError(f"{path}: not a quality model (labels {sorted(labels)}; needs {LABEL_HQ})")
        return cls(model, max_tokens, path)

    def lines(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[str]:
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        return [tokenize(t or "", lang, self.max_tokens) for t, lang in zip(texts, langs)]

    def score_lines(self, lines: Sequence[str]) -> list[float]:
        """P(hq) of already tokenized lines; an empty line scores 0.0."""
        nonempty = [i for i, line in enumerate(lines) if line]
        scores = [0.0] * len(lines)
        if nonempty:
            labels, probs = self.model.predict([lines[i] for i in nonempty], k=2)
            for i, labs, ps in zip(nonempty, labels, probs):
                p = dict(zip(labs, ps)).get(LABEL_HQ)
                if p is None:  # k=2 of a two-label model always has it; 1 - P(other) otherwise
                    p = 1.0 - float(sum(ps))
                scores[i] = min(1.0, max(0.0, float(p)))
        return scores

    def score_many(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[float]:
        """P(__label__hq) of each text (lang per text, or None to decide from the text)."""
        return self.score_lines(self.lines(texts, langs))

    def score(self, text: str, lang: str | None = None) -> float:
        return self.score_many([text], [lang])[0]

    def save(self, path: str) -> None:
        self.model.save_model(path)
        self.path = path

    @classmethod
    def train(cls, examples: Iterable[Example], params: Mapping | None = None,
              work_dir: str | None = None) -> tuple["QualityModel", dict]:
        """Train on examples (label "hq"/"lq"): lines, dedup, balance, split, fit, held-out
        metrics, quantize. Returns the model and a report (counts, params, metrics)."""
        p = {**TRAIN_DEFAULTS, **(params or {})}
        unknown = set(p) - set(TRAIN_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
        t0 = time.time()
        lines, counts = _example_lines(examples, p)
        seconds = {"tokenize": time.time() - t0}
        train, held, split_counts = _balance_and_split(lines, p)
        counts.update(split_counts)
        for label in ("hq", "lq"):
            if not any(lab == label for lab, _, _ in train):
                raise ValueError(f"no {label} training lines (counts: {counts})")
        with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
            train_path = os.path.join(tmp, "train.txt")
            with open(train_path, "w", encoding="utf-8") as f:
                for lab, _, line in train:
                    f.write(f"__label__{lab} {line}\n")
            t1 = time.time()
            ft = _fit(train_path, p)
            model = cls(ft, p["max_tokens"])
            seconds["fit"] = time.time() - t1
            metrics = evaluate(model, held, p["threshold"]) if held else None
            report = {"params": p, "counts": counts, "heldout": metrics, "quantized": False}
            if p["quantize"]:
                t1 = time.time()
                full_path = os.path.join(tmp, "full.bin")
                ft.save_model(full_path)
                ft.quantize(input=train_path, qnorm=True, retrain=p["quantize_retrain"],
                            cutoff=p["quantize_cutoff"], dsub=p["quantize_dsub"],
                            thread=p["thread"], verbose=0)
                qmetrics = evaluate(model, held, p["threshold"]) if held else None
                drop = (metrics["overall"]["macro_f1"] - qmetrics["overall"]["macro_f1"]) if held else 0.0
                if drop <= p["quantize_max_f1_drop"]:
                    report.update(quantized=True, heldout=qmetrics, heldout_unquantized=metrics)
                else:
                    import fasttext

                    model = cls(fasttext.load_model(full_path), p["max_tokens"])
                    report["heldout_quantized_rejected"] = qmetrics
                seconds["quantize"] = time.time() - t1
        seconds["total"] = time.time() - t0
        report["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
        return model, report


_MODELS: dict[str, QualityModel] = {}


def cached_model(path: str) -> QualityModel:
    """`QualityModel.load(path)`, once per process (executors keep it between tasks)."""
    model = _MODELS.get(path)
    if model is None:
        model = _MODELS[path] = QualityModel.load(path)
    return model


_malloc_pinned = False


def _fresh_pages_for_large_allocations() -> None:
    """Make glibc serve every allocation of 128 KiB or more with new (zeroed) pages.

    fastText randomises only `thread`/10 of its input matrix (`DenseMatrix::uniform` fills
    one tenth per thread) and leaves the rest as allocated. The first model of a process gets
    fresh zeroed pages; a later one may get memory that a freed model used, and trains
    differently or diverges ("Encountered NaN"). glibc hands out fresh pages for allocations
    above its mmap threshold, which it raises to the size of the largest block freed (up to
    32 MiB); pinning the threshold at its 128 KiB default stops that. Elsewhere: no-op."""
    global _malloc_pinned
    if _malloc_pinned:
        return
    _malloc_pinned = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _fit(train_path: str, p: Mapping):
    import fasttext

    if int(p["bucket"]) * int(p["dim"]) * 4 < 128 * 1024:
        raise ValueError("bucket * dim must be at least 32768 (see _fresh_pages_for_large_allocations)")
    _fresh_pages_for_large_allocations()
    kw = {k: p[k] for k in _FASTTEXT_KEYS}
    return fasttext.train_supervised(input=train_path, seed=int(p["seed"]), verbose=0, **kw)


def _example_lines(examples: Iterable[Example], p: Mapping) -> tuple[list[tuple[str, str, str]], dict]:
    """(label, group, line) per training line, exact duplicates removed (see module doc). The
    result does not depend on the order of `examples`: of duplicate lines, the one of the
    smallest group is kept, and lines come out sorted."""
    size, max_chunks = int(p["max_tokens"]), int(p["max_chunks_per_doc"])
    kept: dict[str, dict[str, tuple[str, str, str]]] = {"hq": {}, "lq": {}}
    counts = {"docs": {"hq": 0, "lq": 0}, "empty_docs": {"hq": 0, "lq": 0},
              "lines": {"hq": 0, "lq": 0}, "duplicate_lines": {"hq": 0, "lq": 0},
              "conflicting_lines": 0}
    for ex in examples:
        if ex.label not in kept:
            raise ValueError(f"example {ex.id}: label must be 'hq' or 'lq', got {ex.label!r}")
        counts["docs"][ex.label] += 1
        toks = tokens(ex.text, ex.lang, size * max_chunks)
        if not toks:
            counts["empty_docs"][ex.label] += 1
            continue
        group = ex.group or ex.id
        for i in range(0, len(toks), size):
            line = " ".join(toks[i:i + size])
            key = hashlib.sha1(line.encode("utf-8")).hexdigest()
            old = kept[ex.label].get(key)
            if old is not None:
                counts["duplicate_lines"][ex.label] += 1
                if old[1] <= group:
                    continue
            kept[ex.label][key] = (ex.label, group, line)
    both = kept["hq"].keys() & kept["lq"].keys()
    for label in ("hq", "lq"):
        for key in both:
            del kept[label][key]
        counts["lines"][label] = len(kept[label])
    counts["conflicting_lines"] = len(both)
    return sorted(x for label in ("hq", "lq") for x in kept[label].values()), counts


def _rank(seed: object, key: str) -> str:
    return hashlib.sha256(f"{seed}\x00{key}".encode("utf-8")).hexdigest()


def _balance_and_split(lines: list[tuple[str, str, str]], p: Mapping):
    by_label = {label: [x for x in lines if x[0] == label] for label in ("hq", "lq")}
    counts: dict = {"before_balance": {k: len(v) for k, v in by_label.items()}}
    if p["balance"]:  # keep the n lines of the larger class that rank first by a seeded hash
        n = min(len(v) for v in by_label.values())
        for label, items in by_label.items():
            if len(items) > n:
                by_label[label] = sorted(items, key=lambda x: _rank(f"balance:{p['seed']}",
                                                                     f"{x[1]}\x00{x[2]}"))[:n]
    train, held = [], []
    for label, items in by_label.items():
        groups: dict[str, list] = {}
        for x in items:
            groups.setdefault(x[1], []).append(x)
        target = round(len(items) * float(p["holdout"]))
        taken = 0
        for g in sorted(groups, key=lambda g: _rank(f"split:{p['seed']}", g)):
            if taken < target:
                held.extend(groups[g])
                taken += len(groups[g])
            else:
                train.extend(groups[g])
    # a fixed, seeded order (fastText reads the file in order; sorted classes would hurt it)
    train.sort(key=lambda x: _rank(f"order:{p['seed']}", x[2]))
    counts["train"] = {label: sum(1 for x in train if x[0] == label) for label in ("hq", "lq")}
    counts["heldout"] = {label: sum(1 for x in held if x[0] == label) for label in ("hq", "lq")}
    return train, held, counts


def evaluate(model: QualityModel, labelled: Sequence[tuple[str, str, str]] | Sequence[tuple[str, str]],
             threshold: float = 0.5, scores: Sequence[float] | None = None) -> dict:
    """Precision, recall, F1 per class, macro F1, accuracy and ROC AUC of P(hq) on tokenized
    lines: items (label, group, line) or (label, line)."""
    gold = [x[0] for x in labelled]
    if scores is None:
        scores = model.score_lines([x[-1] for x in labelled])
    return metrics(gold, scores, threshold)


def metrics(gold: Sequence[str], scores: Sequence[float], threshold: float = 0.5) -> dict:
    pred = ["hq" if s >= threshold else "lq" for s in scores]
    out: dict = {"n": len(gold), "threshold": threshold}
    f1s = []
    for label in ("hq", "lq"):
        tp = sum(1 for g, q in zip(gold, pred) if g == label and q == label)
        n_pred = sum(1 for q in pred if q == label)
        n_gold = sum(1 for g in gold if g == label)
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_gold if n_gold else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        f1s.append(f1)
        out[label] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                      "support": n_gold}
    correct = sum(1 for g, q in zip(gold, pred) if g == q)
    out["overall"] = {"macro_f1": round(sum(f1s) / 2, 4),
                      "accuracy": round(correct / len(gold), 4) if gold else 0.0,
                      "roc_auc": _auc(gold, scores)}
    return out


def _auc(gold: Sequence[str], scores: Sequence[float]) -> float | None:
    """P(score of a random hq > score of a random lq), ties counting half."""
    pos = sorted(s for g, s in zip(gold, scores) if g == "hq")
    neg = sorted(s for g, s in zip(gold, scores) if g == "lq")
    if not pos or not neg:
        return None
    import bisect

    wins = 0.0
    for s in pos:
        lo = bisect.bisect_left(neg, s)
        hi = bisect.bisect_right(neg, s)
        wins += lo + 0.5 * (hi - lo)
    return round(wins / (len(pos) * len(neg)), 4)


# --- reading training documents ----------------------------------------------------------

def read_spec_documents(spec: str, cfg: Mapping, params: Mapping | None = None,
                        file_counts: dict | None = None) -> Iterator[dict]:
    """Kept documents (dicts with id, text, lang, ...) of one spec: `KIND:URI` through the
    ingest readers, or `dropped:RUN_DIR[#reason,...]` from a run's dropped table."""
    p = {**TRAIN_DEFAULTS, **(params or {})}
    if spec.startswith("dropped:"):
        yield from read_dropped(spec[len("dropped:"):], p["dropped_stage"], file_counts)
        return
    from corpus.ingest import read_input
    from corpus.inputs import list_inputs

    ingest_cfg = cfg.get("ingest", {})
    for f in list_inputs([spec], ingest_cfg.get("cc_prefix", "https://data.commoncrawl.org/")):
        kept = skipped = 0
        for row in read_input(f.kind, f.uri, ingest_cfg):
            if row["reason"] is None and row["text"]:
                kept += 1
                yield row
            else:
                skipped += 1
        if file_counts is not None:
            file_counts[f"{f.kind}:{_shown(f.uri)}"] = {"docs": kept, "skipped": skipped}


def _shown(uri: str) -> str:
    """A local path relative to the working directory when it lies under it (so a report
    does not depend on where the repository is checked out)."""
    if "://" in uri or not os.path.isabs(uri):
        return uri
    rel = os.path.relpath(uri)
    return uri if rel.startswith("..") else rel


def read_dropped(target: str, stage: str = "clean", file_counts: dict | None = None) -> Iterator[dict]:
    """Rows of RUN_DIR/dropped/<stage>/*.parquet with non-empty text; `RUN_DIR#r1,r2` keeps
    only rows dropped for those reasons."""
    import pyarrow.parquet as pq

    from corpus.inputs import InputError
    from corpus.rundir import RunDir

    run_dir, _, reasons_part = target.partition("#")
    reasons = {r.strip() for r in reasons_part.split(",") if r.strip()} or None
    run = RunDir(run_dir)
    folder = run.path("dropped", stage)
    files = sorted(f for f in (run.fs.find(folder) if run.fs.isdir(folder) else [])
                   if f.endswith(".parquet")
                   and not posixpath.basename(f).startswith((".", "_")))
    if not files:
        raise InputError(f"input 'dropped:{target}': no Parquet files in {folder}")
    for path in files:
        kept = skipped = 0
        with run.fs.open(path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            names = set(pf.schema_arrow.names)
            if "text" not in names:
                raise InputError(f"{path}: no `text` column")
            cols = [c for c in ("id", "source", "url", "lang", "text", "reason") if c in names]
            for batch in pf.iter_batches(batch_size=1024, columns=cols):
                for row in batch.to_pylist():
                    if not row.get("text") or (reasons and row.get("reason") not in reasons):
                        skipped += 1
                        continue
                    kept += 1
                    row.setdefault("id", f"{path}#{kept}")
                    yield row
        if file_counts is not None:
            file_counts[f"dropped:{_shown(path)}"] = {"docs": kept, "skipped": skipped}


def _spec_examples(specs: Sequence[str], label: str, cfg: Mapping, p: Mapping,
                   file_counts: dict) -> Iterator[Example]:
    for spec in specs:
        for row in read_spec_documents(spec, cfg, p, file_counts):
            yield Example(id=str(row.get("id")), label=label, text=row["text"], lang=row.get("lang"))


# --- the training job --------------------------------------------------------------------

def train_params(cfg: Mapping | None) -> dict:
    """TRAIN_DEFAULTS under the config's `quality.train` section, when it has one."""
    section = ((cfg or {}).get("quality") or {}).get("train") or {}
    return {**TRAIN_DEFAULTS, **section}


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train_quality(positive_specs: Sequence[str], negative_specs: Sequence[str], out_dir: str,
                  cfg: Mapping | None = None, params: Mapping | None = None, echo: bool = True) -> dict:
    """Train a quality model on documents of the specs; write OUT_DIR/model.ftz (or .bin) and
    OUT_DIR/report.json; print and return the report. `cfg` is the resolved pipeline config
    (its `ingest` section drives the readers); `params` override `train_params(cfg)`."""
    from importlib.metadata import PackageNotFoundError, version

    if cfg is None:
        from corpus.config import load_config

        cfg = load_config()
    p = {**train_params(cfg), **(params or {})}
    if not positive_specs or not negative_specs:
        raise ValueError("train-quality needs at least one positive and one negative spec")
    t0 = time.time()
    file_counts: dict = {}
    examples = [*_spec_examples(positive_specs, "hq", cfg, p, file_counts),
                *_spec_examples(negative_specs, "lq", cfg, p, file_counts)]
    read_s = time.time() - t0
    os.makedirs(out_dir, exist_ok=True)
    model, report = QualityModel.train(examples, p, work_dir=out_dir)
    name = "model.ftz" if report["quantized"] else "model.bin"
    for old in MODEL_NAMES:
        if os.path.exists(os.path.join(out_dir, old)):
            os.remove(os.path.join(out_dir, old))
    model_path = os.path.join(out_dir, name)
    model.save(model_path)

    def _v(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    full = {
        "model": name,
        "sha256": file_sha256(model_path),
        "bytes": os.path.getsize(model_path),
        "labels": {"hq": LABEL_HQ, "lq": LABEL_LQ},
        "specs": {"positive": list(positive_specs), "negative": list(negative_specs)},
        "files": file_counts,
        "tokenizer": {"version": TOKENIZER_VERSION, "max_tokens": p["max_tokens"],
                      "zh": "jieba lcut HMM=False", "other": "lowercased words and punctuation",
                      "digits": "0"},
        **report,
        "seconds": {"read": round(read_s, 2), **report["seconds"]},
        "versions": {"python": sys.version.split()[0], "fasttext": _v("fasttext-numpy2") or _v("fasttext"),
                     "jieba": _v("jieba")},
    }
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(full, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    if echo:
        print(json.dumps(full, indent=2, ensure_ascii=False))
    return full


# --- command line ------------------------------------------------------------------------

def add_train_quality_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--positive", "-p", nargs="+", action="extend", required=True, metavar="SPEC",
                   help="high-quality documents: KIND:URI (as `corpus run --input`) or "
                        "dropped:RUN_DIR[#reason,...]")
    p.add_argument("--negative", "-n", nargs="+", action="extend", required=True, metavar="SPEC",
                   help="low-quality documents, same forms; e.g. dropped:runs/cc#reason_a,reason_b")
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="folder for model.ftz (or model.bin) and report.json")
    p.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. quality.train.epoch=25 or "
                        "ingest.books.max_chars=50000 (training keys: quality.train.*)")


def resolve_train_config(config: str | None, overrides: Sequence[str]) -> tuple[dict, dict]:
    """(pipeline config, training params). `quality.train.*` overrides apply to the training
    parameters whether or not rules/pipeline.yaml has a `quality.train` section."""
    from corpus.config import ConfigError, load_config, merge, parse_override

    base = load_config(config)
    has_section = isinstance((base.get("quality") or {}).get("train"), Mapping)
    ours = [] if has_section else [o for o in overrides if o.strip().startswith("quality.train.")]
    cfg = load_config(config, [o for o in overrides if o not in ours])
    params = train_params(cfg)
    for item in ours:
        keys, value = parse_override(item)
        nested: object = value
        for k in reversed(keys[2:]):
            nested = {k: nested}
        try:
            params = merge(params, nested, "quality.train")
        except ConfigError as e:
            raise ConfigError(f"--set {item}: {e}") from None
    unknown = set(params) - set(TRAIN_DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown config key(s) quality.train.{', quality.train.'.join(sorted(unknown))}")
    return cfg, params


def train_quality_command(args: argparse.Namespace) -> int:
    from corpus.config import ConfigError
    from corpus.inputs import InputError

    try:
        cfg, params = resolve_train_config(args.config, args.overrides)
        train_quality(args.positive, args.negative, args.output, cfg, params)
    except (ConfigError, InputError, ValueError) as e:
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.quality.classifier",
                                     description="train the fastText quality classifier")
    add_train_quality_arguments(parser)
    return train_quality_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
