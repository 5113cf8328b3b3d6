"""Training and evaluation of the topic classifier (`corpus train-topics`).

    train_topics(out_dir, cfg, data_files=()) -> report    model.ftz + report.json + README.md

Training data, each line the classifier's features of a document head (`classify.doc_head`):
THUCNews titles of `thucnews_dir`/dev.txt (label `thucnews:CLASS`), documents of the weak-label
`sources` specs (`KIND:URI` through the ingest readers; label `source:KIND`, at most
`max_per_source` Chinese documents per kind, a seeded choice), and user JSONL lines
`{"title", "text", "topic"}` (label `topic:NAME`). The taxonomy maps labels onto topics.

Evaluation, in the same run: THUCNews test.txt (10-class accuracy on the model's labels, and
topic-level accuracy, macro-F1, per-topic precision/recall/F1 and the confusion matrix) against
a majority-class and a keyword baseline fitted on the same training lines; weak and user
documents are split train/held-out by a seeded hash of their id and scored on the held-out part.
With `eval: dev_split` the model trains on a seeded (1 - holdout) share of dev and is scored on
the rest of dev: that is how the hyper-parameters were chosen, without looking at test.

Deterministic: fixed seed, one thread, zeroed allocations (corpus.quality.train), lines in a
seeded order; the same data and parameters give the same model bytes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from typing import Iterable, Mapping, Sequence

from corpus.quality.evaluate import class_prf
from corpus.quality.train import _fit, _rank, _zeroed_allocations, file_sha256
from corpus.topics.classify import (FEATURES_VERSION, LABEL_PREFIX, TopicClassifier,
                                    doc_head, features, parse_view, view_lines)
from corpus.topics.taxonomy import Taxonomy, load_taxonomy, model_label

FIT_KEYS = ("dim", "epoch", "lr", "wordNgrams", "minCount", "bucket", "loss", "thread", "seed")


def topics_config(cfg: Mapping | None = None) -> dict:
    """The `topics` section of a resolved config (the packaged one when None)."""
    if cfg is None:
        from corpus.config import load_config

        cfg = load_config()
    return dict(cfg["topics"])


# ---------------------------------------------------------------- data

def read_thucnews(folder: str) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """(class names, dev [(title, class)], test [(title, class)]) of a THUCNews titles folder."""
    from corpus.config import project_path

    root = project_path(folder)
    with open(root / "class.txt", encoding="utf-8") as f:
        classes = [line.strip() for line in f if line.strip()]

    def read(name: str) -> list[tuple[str, str]]:
        out = []
        with open(root / name, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                title, sep, cid = line.rpartition("\t")
                if not sep or not cid.isdigit() or int(cid) >= len(classes):
                    raise ValueError(f"{root / name}:{n}: expected TITLE<TAB>CLASS_ID")
                out.append((title, classes[int(cid)]))
        return out

    return classes, read("dev.txt"), read("test.txt")


def source_docs(specs: Sequence[str], taxonomy: Taxonomy, cfg: Mapping, tp: Mapping,
                counts: dict) -> list[tuple[str, str, str, str]]:
    """(id, label, title, text) of weak-label documents: at most `max_per_source` Chinese
    documents per source kind the taxonomy maps, chosen by a seeded hash of the id."""
    from corpus.inputs import parse_spec
    from corpus.quality.features import is_chinese
    from corpus.quality.training_data import read_spec_documents

    kinds = taxonomy.source_topics()
    by_kind: dict[str, list] = {}
    for spec in specs:
        kind, _ = parse_spec(spec)
        if kind not in kinds:
            raise ValueError(f"source spec {spec!r}: no topic of the taxonomy has sources: [{kind}]")
        for row in read_spec_documents(spec, cfg, file_counts=counts.setdefault("files", {})):
            text = row.get("text") or ""
            if not is_chinese(text, row.get("lang")):
                counts.setdefault("non_chinese_skipped", Counter())[kind] += 1
                continue
            by_kind.setdefault(kind, []).append((row["id"], model_label("sources", kind),
                                                 row.get("title"), text))
    out = []
    seed, cap = tp["seed"], int(tp["max_per_source"])
    for kind, docs in sorted(by_kind.items()):
        docs.sort(key=lambda d: _rank(f"source:{seed}", d[0]))
        out.extend(docs[:cap])
        counts.setdefault("sources", {})[kind] = {"read": len(docs), "used": min(cap, len(docs))}
    return out


def user_docs(paths: Sequence[str], taxonomy: Taxonomy) -> list[tuple[str, str, str, str]]:
    """(id, label, title, text) of user JSONL lines {"title", "text", "topic"}."""
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not JSON: {e.msg}") from None
                topic = rec.get("topic") if isinstance(rec, dict) else None
                if topic not in taxonomy.by_name:
                    raise ValueError(f"{path}:{n}: topic {topic!r} is not in {taxonomy.path}")
                if not isinstance(rec.get("text") or "", str) or not isinstance(rec.get("title") or "", str):
                    raise ValueError(f"{path}:{n}: title and text must be strings")
                out.append((f"{path}:{n}", model_label("topic", topic), rec.get("title"), rec.get("text") or ""))
    return out


def pseudo_docs(titles: Sequence[tuple[str, str]], per_class: int, max_titles: int, seed: str,
                head_chars: int) -> list[tuple[str, str]]:
    """(class, head) of `per_class` pseudo-documents per class of `titles` [(title, class)]:
    a title, then 1 to `max_titles` - 1 other titles of its class as the text (joined with
    '。'), cut to a head as `doc_head` does. Documents are longer than titles; a model trained
    and calibrated on titles alone is unsure of them. Seeded (`random.Random(seed)`)."""
    import random

    by_class: dict[str, list[str]] = {}
    for title, c in titles:
        by_class.setdefault(c, []).append(title)
    rnd = random.Random(seed)
    out = []
    for c in sorted(by_class):
        pool = by_class[c]
        if len(pool) < 2 or per_class <= 0:
            continue
        for _ in range(per_class):
            k = rnd.randint(2, max(2, min(max_titles, len(pool))))
            first, *rest = rnd.sample(pool, k)
            out.append((c, doc_head(first, "。".join(rest) + "。", head_chars)))
    return out


# ---------------------------------------------------------------- metrics

def metrics(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1 over `classes`, per-class precision/recall/F1/support, and the
    confusion matrix (rows: gold, columns: predicted; a prediction outside `classes` counts in
    column `(other)`)."""
    n = len(gold)
    per, f1s = {}, []
    for c in classes:
        per[c] = class_prf(gold, pred, c)
        f1s.append(per[c].pop("f1_exact"))
    cols = list(classes) + ["(other)"]
    conf = {c: dict.fromkeys(cols, 0) for c in classes}
    for g, p in zip(gold, pred):
        if g in conf:
            conf[g][p if p in conf else "(other)"] += 1
    if not any(row["(other)"] for row in conf.values()):
        for row in conf.values():
            del row["(other)"]
    acc = sum(1 for g, p in zip(gold, pred) if g == p) / n if n else 0.0
    return {"n": n, "accuracy": round(acc, 4), "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
            "per_class": per, "confusion": conf}


class KeywordBaseline:
    """Per class, the `k` training tokens (jieba words of 2+ characters) most specific to it
    (share of the token's documents in that class, smoothed, seen in at least `min_docs`
    documents); a document goes to the class whose keywords it holds most (ties: the larger
    class), or the majority class when it holds none."""

    def __init__(self, docs: Iterable[tuple[str, str]], k: int = 50, min_docs: int = 3):
        by_class: dict[str, Counter] = {}
        total: Counter = Counter()
        sizes: Counter = Counter()
        for text, label in docs:
            toks = set(self._words(text))
            by_class.setdefault(label, Counter()).update(toks)
            total.update(toks)
            sizes[label] += 1
        self.majority = min(sizes, key=lambda c: (-sizes[c], c))
        self.order = sorted(sizes, key=lambda c: (-sizes[c], c))
        self.keywords = {}
        for c, cnt in by_class.items():
            ranked = sorted((w for w in cnt if total[w] >= min_docs),
                            key=lambda w: (-(cnt[w] + 0.0) / (total[w] + 1.0), -cnt[w], w))
            self.keywords[c] = set(ranked[:k])

    @staticmethod
    def _words(text: str) -> list[str]:
        import rjieba

        return [w for w in rjieba.cut(text.lower(), hmm=False) if len(w.strip()) > 1]

    def predict(self, text: str) -> str:
        toks = set(self._words(text))
        hits = {c: len(toks & kw) for c, kw in self.keywords.items()}
        best = max(self.order, key=lambda c: hits.get(c, 0))
        return best if hits.get(best, 0) else self.majority


# ---------------------------------------------------------------- training

def _write_lines(path: str, rows: Iterable[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for label, line in rows:
            f.write(f"{LABEL_PREFIX}{label} {line}\n")


def parse_views(tp: Mapping) -> list[tuple[str, dict]]:
    """(view, fastText parameters) per model of `views` ["VIEW[:LOSS][:KEY=VALUE...]", ...]:
    VIEW as `classify.parse_view`, LOSS and KEY=VALUE (a FIT_KEYS parameter) override the
    shared parameters for that model."""
    out = []
    for spec in tp["views"]:
        view, *rest = str(spec).split(":")
        parse_view(view)
        params = {k: tp[k] for k in FIT_KEYS}
        for part in rest:
            key, sep, value = part.partition("=")
            if not sep:
                key, value = "loss", part
            if key not in FIT_KEYS or key in ("thread", "seed"):
                raise ValueError(f"topics.train.views {spec!r}: {key!r} is not a per-model fastText parameter")
            params[key] = type(tp[key])(value)
        out.append((view, params))
    if not out:
        raise ValueError("topics.train.views: no model")
    return out


def _quantize(ft, train_path: str, tp: Mapping) -> None:
    with _zeroed_allocations():  # retrain trains again: the same fresh pages as _fit
        ft.quantize(input=train_path, qnorm=True, retrain=bool(tp["quantize_retrain"]),
                cutoff=int(tp["quantize_cutoff"]), dsub=int(tp["quantize_dsub"]),
                    thread=int(tp["thread"]), verbose=0)


def train_topics(out_dir: str, cfg: Mapping | None = None, data_files: Sequence[str] = (),
                 echo: bool = True) -> dict:
    """Train, evaluate, and write OUT_DIR/model.ftz, report.json and README.md (the model card).
    Returns the report."""
    from corpus.quality.training_data import _shown

    t0 = time.time()
    tc = topics_config(cfg)
    tp = dict(tc["train"])
    taxonomy = load_taxonomy(tc["taxonomy"])
    head_chars = int(tc["head_chars"])
    counts: dict = {}
    classes, dev, test = read_thucnews(tp["thucnews"])
    for c in classes:
        taxonomy.topic_of(model_label("thucnews", c))  # every class must map onto a topic
    if tp["eval"] == "dev_split":  # tuning: hold out part of dev, never look at test
        ranked = sorted(range(len(dev)), key=lambda i: _rank(f"dev:{tp['seed']}", str(i)))
        cut = round(len(dev) * float(tp["holdout"]))
        held_i = set(ranked[:cut])
        test = [dev[i] for i in sorted(held_i)]
        dev = [dev[i] for i in range(len(dev)) if i not in held_i]
    others = [*source_docs(list(tp["sources"]), taxonomy, cfg or _cfg(), tp, counts),
              *user_docs(list(data_files), taxonomy)]
    held_others, train_rows = [], []
    for title, c in dev:
        train_rows.append((model_label("thucnews", c), features(doc_head(title, "", head_chars)), title))
    for c, head in pseudo_docs(dev, int(tp["pseudo_docs"]), int(tp["pseudo_titles"]), f"train:{tp['seed']}",
                               head_chars):
        train_rows.append((model_label("thucnews", c), features(head), head))
    for doc_id, label, title, text in others:
        head = doc_head(title, text, head_chars)
        line = features(head)
        if not line:
            continue
        if _rank(f"heldout:{tp['seed']}", doc_id) < format(int(float(tp["holdout"]) * 16**8), "08x"):
            held_others.append((label, line, head))
        else:
            train_rows.append((label, line, head))
    train_rows.sort(key=lambda r: _rank(f"order:{tp['seed']}", f"{r[0]}\x00{r[1]}"))
    counts["train_lines"] = dict(sorted(Counter(r[0] for r in train_rows).items()))
    counts["heldout_lines"] = dict(sorted(Counter(r[0] for r in held_others).items()))
    counts["thucnews"] = {"dev_used_for_training": len(dev), "evaluated": len(test),
                          "evaluated_on": "dev_split" if tp["eval"] == "dev_split" else "test.txt"}
    views = parse_views(tp)
    os.makedirs(out_dir, exist_ok=True)
    members, files = [], []
    t1 = time.time()
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for n, (view, params) in enumerate(views, 1):
            train_path = os.path.join(tmp, f"train-{n}.txt")
            vlines = view_lines([line for _, line, _ in train_rows], view)
            _write_lines(train_path, ((lab, line) for (lab, _, _), line in zip(train_rows, vlines)))
            ft = _fit(train_path, params)
            if tp["quantize"]:
                _quantize(ft, train_path, tp)
            name = ("model" if n == 1 else f"model-{n}") + (".ftz" if tp["quantize"] else ".bin")
            ft.save_model(os.path.join(out_dir, name))
            members.append((ft, view))
            files.append({"model": name, "features": view, "loss": params["loss"],
                          **{k: params[k] for k in FIT_KEYS if params[k] != tp[k]}})
    fit_s = time.time() - t1
    for f in files:
        f["sha256"] = file_sha256(os.path.join(out_dir, f["model"]))
        f["bytes"] = os.path.getsize(os.path.join(out_dir, f["model"]))
    # an earlier ensemble's extra models would be read by nothing; drop them
    for name in os.listdir(out_dir):
        if name.startswith("model-") and name.endswith((".ftz", ".bin")) and name not in {f["model"] for f in files}:
            os.remove(os.path.join(out_dir, name))
    model_path = os.path.join(out_dir, files[0]["model"])
    ft = members[0][0]
    from corpus.quality.features import is_chinese

    # a few mixed-script THUCNews titles aside, is all the training data Chinese?
    chinese_only = sum(1 for _, _, head in train_rows if not is_chinese(head)) <= 0.01 * len(train_rows)
    clf = TopicClassifier(members, taxonomy, head_chars, float(tc["min_score"]), model_path, chinese_only)
    evaluation = evaluate(clf, taxonomy, classes, test, held_others, train_rows)
    evaluation["pseudo_docs"] = evaluate_pseudo_docs(
        clf, taxonomy, test, int(tp["eval_pseudo_docs"]), int(tp["pseudo_titles"]), f"eval:{tp['seed']}",
        float(tp["target_precision"]))
    news = evaluate_news(clf, str(tp["news_eval"]), cfg or _cfg()) if tp["news_eval"] else None
    if news:
        evaluation["news"] = news
    report = {
        "model": os.path.basename(model_path),
        "sha256": file_sha256(model_path),
        "bytes": sum(f["bytes"] for f in files),
        "taxonomy": str(tc["taxonomy"]),
        "topics": taxonomy.topics,
        "labels": {lab: taxonomy.topic_of(lab[len(LABEL_PREFIX):]) for lab in ft.get_labels()},
        "input": {"head_chars": head_chars, "features_version": FEATURES_VERSION,
                  "chinese_only": chinese_only, "views": files,
                  "features": "per model (views) a view of the characters of the lower-cased head (digits as 0, "
                              "white space dropped): chars, words (jieba, 2+ characters), jieba (every jieba token), "
                              "bigrams (character pairs); fastText adds n-grams up to wordNgrams; an ensemble "
                              "averages its models' label probabilities, each scaled to sum 1"},
        "min_score": float(tc["min_score"]),
        "params": tp,
        "data": {"thucnews": _shown(str(tp["thucnews"])), "sources": list(tp["sources"]),
                 "user_files": [_shown(p) for p in data_files]},
        "counts": counts,
        **evaluation,
        "seconds": {"fit": round(fit_s, 2), "total": round(time.time() - t0, 2)},
        "versions": _versions(),
    }
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False, default=_json_default)
        f.write("\n")
    from corpus.topics.card import write_card

    write_card(report, os.path.join(out_dir, "README.md"))
    if echo:
        print(summary(report))
    return report


def _cfg() -> Mapping:
    from corpus.config import load_config

    return load_config()


def _json_default(o):
    if isinstance(o, Counter):
        return dict(sorted(o.items()))
    raise TypeError(type(o).__name__)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    return {"python": sys.version.split()[0], "fasttext": v("fasttext-numpy2") or v("fasttext"),
            "rjieba": v("rjieba")}


def calibrate(gold: Sequence[str], pred: Sequence[str], scores: Sequence[float], precision: float) -> float:
    """The smallest threshold t (a score, rounded down to 0.01) at which the predictions scoring
    >= t are right at least `precision` of the time; 1.0 when no threshold gets there."""
    ranked = sorted(zip(scores, (g == p for g, p in zip(gold, pred))), reverse=True)
    best, right = 1.0, 0
    for n, (score, ok) in enumerate(ranked, 1):
        right += ok
        if right >= precision * n and (n == len(ranked) or ranked[n][0] < score):
            best = score
    return int(best * 100) / 100


def evaluate_pseudo_docs(clf: TopicClassifier, taxonomy: Taxonomy, test: Sequence[tuple[str, str]],
                         per_class: int, max_titles: int, seed: str, precision: float) -> dict:
    """Document-shaped input: pseudo-documents of the evaluated titles (`pseudo_docs`), their
    topic accuracy (no threshold), the `other` share and the precision of the rest at the
    configured min_score, and the min_score that would give `precision` (`calibrate`)."""
    docs = pseudo_docs(test, per_class, max_titles, seed, clf.head_chars)
    gold = [taxonomy.topic_of(model_label("thucnews", c)) for c, _ in docs]
    pred, scores = _argmax_topics(clf, [h for _, h in docs])
    kept = [(g, p) for g, p, sc in zip(gold, pred, scores) if sc >= clf.min_score]
    # the threshold is chosen on titles and pseudo-documents together: on pseudo-documents
    # alone (right 99% of the time) any threshold reaches the target
    t_gold = [taxonomy.topic_of(model_label("thucnews", c)) for _, c in test]
    t_pred, t_scores = _argmax_topics(clf, [doc_head(t, "", clf.head_chars) for t, _ in test])
    return {"n": len(docs), "titles_per_doc": [2, max_titles], "accuracy": _acc(gold, pred),
            "min_score": clf.min_score, "fallback_share": round(1 - len(kept) / max(1, len(docs)), 4),
            "precision_kept": _acc([g for g, _ in kept], [p for _, p in kept]),
            "target_precision": precision,
            "calibrated_min_score": calibrate(gold + t_gold, pred + t_pred, scores + t_scores, precision)}


def _acc(gold: Sequence[str], pred: Sequence[str]) -> float:
    return round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4) if gold else 0.0


# Sohu channels (the host of a SogouCS URL) and the topic whose news they carry; channels that
# carry no one topic (news, women, baby, ...) are not scored
SOHU_CHANNELS = {
    "sports": "sports", "2008": "sports", "business": "finance", "money": "finance", "stock": "finance",
    "yule": "entertainment", "it": "technology", "tech": "technology", "digi": "technology",
    "learning": "education", "house": "real_estate", "focus": "real_estate", "mil": "politics",
    "gongyi": "society", "games": "games", "pinglun": "politics",
}


def evaluate_news(clf: TopicClassifier, uri: str, cfg: Mapping) -> dict | None:
    """SogouCS news items (corpus.ingest.news) labelled by their Sohu channel (`SOHU_CHANNELS`):
    how many get `other` at the configured min_score, and the topic accuracy on the items whose
    channel maps to a topic. None when `uri` does not exist (the data are not bundled)."""
    import re

    from corpus.config import project_path
    from corpus.ingest.news import read_news

    path = project_path(uri)
    if not os.path.exists(path):
        return None
    rows = [r for r in read_news(str(path), cfg.get("ingest", {}).get("news", {})) if not r.get("reason")]
    topics, _ = clf.predict([r.get("title") for r in rows], [r.get("text") or "" for r in rows])
    by_channel: dict[str, dict] = {}
    for r, t in zip(rows, topics):
        host = re.sub(r"^[a-z]+://([^/:]+).*$", r"\1", (r.get("url") or "").lower())
        channel = host.removesuffix(".sohu.com")
        topic = next((SOHU_CHANNELS[part] for part in channel.split(".") if part in SOHU_CHANNELS), None)
        row = by_channel.setdefault(channel, {"topic": topic, "n": 0, "other": 0,
                                              "right": 0, "predicted": Counter()})
        row["n"] += 1
        row["other"] += t == clf.fallback
        row["right"] += t == row["topic"]
        row["predicted"][t] += 1
    mapped = [v for v in by_channel.values() if v["topic"]]
    return {"file": os.path.basename(str(path)), "n": len(rows), "min_score": clf.min_score,
            "other": sum(v["other"] for v in by_channel.values()),
            "mapped": sum(v["n"] for v in mapped), "mapped_right": sum(v["right"] for v in mapped),
            "channels": {k: {**v, "predicted": dict(v["predicted"].most_common())}
                         for k, v in sorted(by_channel.items(), key=lambda kv: -kv[1]["n"])}}


def evaluate(clf: TopicClassifier, taxonomy: Taxonomy, classes: Sequence[str],
             test: Sequence[tuple[str, str]], held_others: Sequence[tuple[str, str, str]],
             train_rows: Sequence[tuple[str, str, str]]) -> dict:
    """The evaluation part of the report (module docstring)."""
    # scored as trained: every title, whatever its script
    lines = [doc_head(title, "", clf.head_chars) for title, _ in test]
    probs = clf.label_probs_heads(lines, chinese_only=False)
    # 10-class: argmax over the THUCNews labels of the model
    thuc = [model_label("thucnews", c) for c in classes]
    pred10 = [max(thuc, key=lambda lab: p.get(lab, 0.0)).split(":", 1)[1] for p in probs]
    gold10 = [c for _, c in test]
    # topic level: argmax over topics (no threshold), and with the threshold
    gold_t = [taxonomy.topic_of(model_label("thucnews", c)) for c in gold10]
    t_names = list(dict.fromkeys(gold_t))
    saved, clf.min_score = clf.min_score, 0.0
    pred_t, _ = clf.predict_heads(lines, chinese_only=False)
    clf.min_score = saved
    pred_thr, _ = clf.predict_heads(lines, chinese_only=False)
    # baselines on the same training lines (topic level)
    train_topic = [(head, taxonomy.topic_of(lab)) for lab, _, head in train_rows]
    majority = Counter(t for _, t in train_topic).most_common(1)[0][0]
    kw = KeywordBaseline(train_topic)
    kw_pred = [kw.predict(title) for title, _ in test]
    out = {
        "thucnews_test": {
            "classes10": metrics(gold10, pred10, classes),
            "topics": metrics(gold_t, pred_t, t_names),
            "topics_with_min_score": {**{k: v for k, v in metrics(gold_t, pred_thr, t_names).items()
                                         if k in ("accuracy", "macro_f1")},
                                      "fallback_share": round(pred_thr.count(taxonomy.fallback) / max(1, len(pred_thr)), 4)},
            "baselines": {
                "majority": {"predicts": majority, **{k: v for k, v in metrics(gold_t, [majority] * len(gold_t), t_names).items()
                                                      if k in ("accuracy", "macro_f1")}},
                "keyword": {k: v for k, v in metrics(gold_t, kw_pred, t_names).items() if k in ("accuracy", "macro_f1")},
            },
        },
    }
    if held_others:
        h_lines = [head for _, _, head in held_others]
        h_pred, _ = _argmax_topics(clf, h_lines)
        h_gold = [taxonomy.topic_of(lab) for lab, _, _ in held_others]
        names = list(dict.fromkeys(sorted(h_gold)))
        m = metrics(h_gold, h_pred, names)
        out["heldout_other_data"] = {k: m[k] for k in ("n", "accuracy", "per_class")}
    return out


def _argmax_topics(clf: TopicClassifier, heads: Sequence[str]) -> tuple[list[str], list[float]]:
    saved, clf.min_score = clf.min_score, 0.0
    try:
        return clf.predict_heads(heads, chinese_only=False)
    finally:
        clf.min_score = saved


def summary(report: Mapping) -> str:
    """A few lines: accuracy and macro-F1 of the model and the baselines."""
    ev = report["thucnews_test"]
    where = report["counts"]["thucnews"]["evaluated_on"]
    b = ev["baselines"]
    rows = [f"THUCNews {where} ({ev['topics']['n']} titles)",
            f"  model, topics ({len(ev['topics']['per_class'])}): accuracy {ev['topics']['accuracy']:.4f}  macro-F1 {ev['topics']['macro_f1']:.4f}",
            f"  model, 10 classes:     accuracy {ev['classes10']['accuracy']:.4f}  macro-F1 {ev['classes10']['macro_f1']:.4f}",
            f"  keyword baseline:      accuracy {b['keyword']['accuracy']:.4f}  macro-F1 {b['keyword']['macro_f1']:.4f}",
            f"  majority baseline:     accuracy {b['majority']['accuracy']:.4f}  macro-F1 {b['majority']['macro_f1']:.4f}"]
    if "heldout_other_data" in report:
        h = report["heldout_other_data"]
        rows.append(f"held-out weak/user documents ({h['n']}): accuracy {h['accuracy']:.4f}")
    rows.append(f"model: {report['model']} ({report['bytes']:,} bytes, sha256 {report['sha256'][:12]})")
    return "\n".join(rows)
