"""The job that trains the quality classifier.

    train_model(examples, params) -> (model, report)
    train_quality(positive_specs, negative_specs, out_dir, cfg) -> report

Positives are labelled `__label__hq`, negatives `__label__lq` (documents: see
corpus.quality.training_data). Long documents become several training lines of `max_tokens`
tokens (at most `max_chunks_per_doc`), which always stay together on one side of the split.
Exact duplicate lines are removed within a class; a line found in both classes is removed from
both. The larger class is down-sampled (seeded) to the size of the smaller one; then each class
is split train/held-out by a seeded hash of the document id (so the split does not depend on
input order). fastText trains with `thread: 1` (with more threads it is not deterministic; and
see `_zeroed_allocations` for the memory it reads without writing it first), and the model is quantized to .ftz when that costs at most
`quantize_max_f1_drop` of held-out macro F1. The output folder gets `model.ftz` (or
`model.bin`) and `report.json`: counts, parameters, the exact specs, held-out precision /
recall / F1 per class and overall, and the model's sha256. Parameters: `quality.train` in
rules/pipeline.yaml.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Iterable, Mapping, Sequence

from corpus.quality.evaluate import evaluate
from corpus.quality.features import TOKENIZER_VERSION, tokens
from corpus.quality.model import LABEL_HQ, LABEL_LQ, MODEL_NAMES, QualityModel
from corpus.quality.params import FASTTEXT_KEYS, check_params, train_params
from corpus.quality.training_data import Example, spec_examples


def train_model(examples: Iterable[Example], params: Mapping | None = None,
                work_dir: str | None = None) -> tuple[QualityModel, dict]:
    """Train on examples (label "hq"/"lq"): lines, dedup, balance, split, fit, held-out
    metrics, quantize. Returns the model and a report (counts, params, metrics)."""
    check_params(params or {})
    p = {**train_params(), **(params or {})}
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
        model = QualityModel(ft, p["max_tokens"])
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

                model = QualityModel(fasttext.load_model(full_path), p["max_tokens"])
                report["heldout_quantized_rejected"] = qmetrics
            seconds["quantize"] = time.time() - t1
    seconds["total"] = time.time() - t0
    report["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    return model, report


@contextlib.contextmanager
def _zeroed_allocations():
    """While training, glibc hands out every allocation zero-filled (M_PERTURB).

    fastText reads memory it allocated but did not write (it randomises only a part of its
    input matrix), so a model's bytes depended on what the process had freed before: the
    first model of a process got fresh zeroed pages, a later one reused a freed model's memory
    and trained differently or diverged ("Encountered NaN"). With M_PERTURB set to 0xff glibc
    fills each allocation with 0x00 (and freed memory with 0xff), so every training starts
    from zeros whatever came before. Elsewhere than glibc: no-op."""
    try:
        import ctypes

        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is not None:
        mallopt(-6, 0xFF)  # M_PERTURB
    try:
        yield
    finally:
        if mallopt is not None:
            mallopt(-6, 0)


def _fit(train_path: str, p: Mapping):
    import fasttext

    kw = {k: p[k] for k in FASTTEXT_KEYS}
    with _zeroed_allocations():
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


def file_sha256(path: str) -> str:
    """The sha256 of a file, in hex."""
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
    examples = [*spec_examples(positive_specs, "hq", cfg, p, file_counts),
                *spec_examples(negative_specs, "lq", cfg, p, file_counts)]
    read_s = time.time() - t0
    os.makedirs(out_dir, exist_ok=True)
    model, report = train_model(examples, p, work_dir=out_dir)
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
                      "zh": "jieba dictionary, no HMM (rjieba cut)", "other": "lowercased words and punctuation",
                      "digits": "0"},
        **report,
        "seconds": {"read": round(read_s, 2), **report["seconds"]},
        "versions": {"python": sys.version.split()[0], "fasttext": _v("fasttext-numpy2") or _v("fasttext"),
                     "rjieba": _v("rjieba")},
    }
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(full, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    if echo:
        print(json.dumps(full, indent=2, ensure_ascii=False))
    return full
