"""The inspection notebook runs headless on a real run of the sample; corpus.explore's helpers."""

import json
import math
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.config import load_config
from corpus.explore.dedup import (
    MEMBER_COLUMNS, cluster_docs, cluster_sizes, cluster_summary, dedup_clusters, dedup_funnel,
    hamming, layout_frame, pick_clusters, popcount64, report_clusters, resolve_representatives,
    size_bins,
)
from corpus.explore.diff import SIDE_BY_SIDE_CLASS, diff_marks, diff_tokens, side_by_side_html
from corpus.explore.funnel import drops_per_rule, funnel_frames
from corpus.explore.plots import find_cjk_font, plot_cluster_sizes, plot_histogram, setup_cjk_font
from corpus.explore.run import committed_stages, load_funnel, load_report, load_stage, run_config
from corpus.explore.samples import dropped_samples, preview
from corpus.explore.signals import (
    main_signals, score_histogram, signal_histogram, signal_names, signals_frame,
)
from corpus.explore.thresholds import (
    _numbers, all_thresholds, probe_rule, rule_thresholds, rules_dir_for,
)
from corpus.explore.topics import (
    cell_label, cells_frame, confusion_frame, load_manifest, load_model_report, mix_frame, mix_summary,
    model_matches_run, model_report_path, per_topic_metrics, plot_confusion, plot_mix, shard_frame,
    topic_examples, topic_label, topics_per_source,
)
from corpus.ledger import ledger_table
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "filter_stats.ipynb"
DEDUP_NOTEBOOK = REPO / "notebooks" / "dedup.ipynb"
DECONTAM_NOTEBOOK = REPO / "notebooks" / "decontamination.ipynb"
TOPICS_NOTEBOOK = REPO / "notebooks" / "topics.ipynb"


# --- a small run directory made by hand (no Spark), for the helpers ---------------------------

RULES_ZH = """
langs: [zh]
rules:
  min_length: {min_chars: 50}
  punct_share: {max: 0.3}
overrides:
  forums:
    min_length: {min_chars: 10}
"""
RULES_DEFAULT = """
rules:
  min_length: {min_chars: 80}
"""


def _doc(i, source, lang, text, signals, score=None, reason=None, detail=None):
    return {"id": f"{i:032x}", "source": source, "url": None, "locator": f"f#{i}", "fetch_time": None,
            "lang": lang, "lang_score": 0.9, "title": None, "text": text, "meta": [("k", "v")],
            "signals": sorted(signals.items()), "quality_score": score, "reason": reason, "detail": detail}


def _rows(counts):
    """Ledger rows from {(source, lang, reason): (docs, chars)}."""
    return [dict(source=s, lang=l, reason=r, docs=d, chars=c) for (s, l, r), (d, c) in counts.items()]


def _entry(stage):
    """A manifest entry as a commit writes it (only the parts the helpers read)."""
    return {"outputs": {"ledger": {"path": f"ledger/{stage}.parquet"}}}


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """A committed ingest+clean run: 6 kept docs, 3 min_length, 2 punct_share, 1 language."""
    from corpus.quality.clean import CLEAN_DOC_SCHEMA, CLEAN_OUTCOME_SCHEMA

    root = tmp_path_factory.mktemp("fake") / "run"
    rules = root.parent / "rules"
    rules.mkdir()
    (rules / "zh.yaml").write_text(RULES_ZH)
    (rules / "default.yaml").write_text(RULES_DEFAULT)
    (rules / "pipeline.yaml").write_text("clean: {rules_dir: rules, min: 1}\n")  # no rule set
    kept = [_doc(i, "web" if i % 2 else "books", "zh", "好文章。\n" * (20 + i),
                 {"chars": 100.0 + i, "punct_share": 0.01 * i}, score=0.5 + 0.05 * i) for i in range(6)]
    dropped = ([_doc(10 + i, "web", "zh", "短" * (10 + i), {"chars": 10.0 + i, "punct_share": 0.0},
                     reason="min_length", detail="chars 10 < 50") for i in range(3)]
               + [_doc(20 + i, "forums", "en", "#$%!" * 20, {"chars": 80.0, "punct_share": 0.9},
                       reason="punct_share", detail="punct_share 0.90 > 0.30") for i in range(2)]
               + [_doc(30, "web", "fr", "Bonjour tout le monde", {"lang_share_latin": 1.0},
                       reason="language", detail="fr (0.99)")])
    for rel, rows, schema in (("clean", kept, CLEAN_DOC_SCHEMA), ("dropped/clean", dropped, CLEAN_OUTCOME_SCHEMA)):
        (root / rel).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([{k: r[k] for k in schema.names} for r in rows], schema=schema),
                       root / rel / "part-00000.parquet")
    (root / "ledger").mkdir()
    counts = {}
    for r in kept + dropped:
        key = (r["source"], r["lang"], r["reason"])
        d, c = counts.get(key, (0, 0))
        counts[key] = (d + 1, c + len(r["text"]))
    pq.write_table(ledger_table("r1", "clean", _rows(counts)),
                   root / "ledger" / "clean.parquet")
    pq.write_table(ledger_table("r1", "ingest", _rows({("web", None, None): (12, 1000), ("web", None, "non_html"): (3, 0)})),
                   root / "ledger" / "ingest.parquet")
    (root / "manifest.json").write_text(json.dumps({"stages": {s: _entry(s) for s in ("ingest", "clean")}}))
    (root / "config.yaml").write_text(f"clean:\n  rules_dir: {rules}\n  classifier: {{threshold: 0.6}}\n")
    return root


def test_funnel_frames(fake_run):
    funnel = load_funnel(fake_run)
    summary, groups, _ = funnel_frames(funnel)
    assert summary["stage"].tolist() == ["ingest", "clean"]
    clean = summary.set_index("stage").loc["clean"]
    assert (clean["in_docs"], clean["kept_docs"], clean["dropped_docs"]) == (12, 6, 6)
    assert clean["kept_docs_share"] == 0.5
    assert groups[groups["stage"] == "clean"]["in_docs"].sum() == 12
    assert set(groups[groups["stage"] == "ingest"]["lang"]) == {"-"}
    rule_drops = drops_per_rule(funnel, "clean")
    assert rule_drops["reason"].tolist() == ["min_length", "punct_share", "language"]
    assert rule_drops["docs"].tolist() == [3, 2, 1]
    assert rule_drops["share_of_in"].iloc[0] == 3 / 12
    assert drops_per_rule(funnel, "ingest")["reason"].tolist() == ["non_html"]
    assert committed_stages(fake_run) == ["ingest", "clean"]


def test_load_stage_has_status_and_signal_columns(fake_run):
    docs = load_stage(fake_run, "clean")
    assert docs["status"].value_counts().to_dict() == {"kept": 6, "dropped": 6}
    assert docs.loc[docs["status"] == "kept", "reason"].isna().all()
    assert docs.loc[docs["status"] == "dropped", "reason"].notna().all()
    assert signal_names(docs) == ["chars", "lang_share_latin", "punct_share"]
    assert docs["sig.lang_share_latin"].notna().sum() == 1  # NaN where a doc lacks the signal
    assert docs.loc[0, "meta"] == {"k": "v"}
    narrow = load_stage(fake_run, "clean", columns=["id", "signals"], expand_signals=False)
    assert set(narrow.columns) == {"status", "id", "reason", "detail", "signals"}
    assert isinstance(narrow.loc[0, "signals"], dict)
    a = load_stage(fake_run, "clean", limit=2, seed=3)
    b = load_stage(fake_run, "clean", limit=2, seed=3)
    assert len(a) == 4 and a["id"].tolist() == b["id"].tolist()
    with pytest.raises(FileNotFoundError):
        load_stage(fake_run, "dedup")


def test_signals_frame_from_python_maps():
    df = signals_frame([[("a", 1.0)], {"b": 2.0, "a": 3.0}, None])
    assert list(df.columns) == ["sig.a", "sig.b"]
    assert df["sig.a"].tolist()[:2] == [1.0, 3.0] and math.isnan(df["sig.b"][0]) and df.iloc[2].isna().all()


def test_signal_histogram(fake_run):
    docs = load_stage(fake_run, "clean")
    h = signal_histogram(docs, "chars", bins=10)
    assert len(h["edges"]) == 11 and len(h["kept"]) == len(h["dropped"]) == 10
    assert sum(h["kept"]) == 6 and sum(h["dropped"]) == 5 and h["missing"] == {"kept": 0, "dropped": 1}
    assert h["edges"][0] == 10.0
    wide = signal_histogram(docs, "chars", bins=10, marks=[150, float("nan")])
    assert wide["edges"][-1] == 150.0 and sum(wide["kept"]) == 6
    far = signal_histogram(docs, "chars", bins=10, marks=[100_000])  # not worth squashing for
    assert far["edges"][-1] < 1000 and not far["log_x"]
    fixed = signal_histogram(docs, "chars", bins=2, value_range=(50, 60))  # outside: end bins
    assert fixed["dropped"] == [3, 2] and fixed["kept"] == [0, 6]
    q = score_histogram(docs, bins=4)
    assert q["edges"] == [0.0, 0.25, 0.5, 0.75, 1.0] and sum(q["kept"]) == 6
    assert q["missing"]["dropped"] == 6
    lengths = pd.DataFrame({"status": ["kept"] * 4 + ["dropped"], "sig.chars": [0.0, 50, 5000, 90000, 3]})
    logh = signal_histogram(lengths, "chars", bins=4, clip=None)
    assert logh["log_x"] and logh["edges"][0] == 1.0 and logh["edges"][-1] == 90000.0
    assert logh["kept"] == [1, 1, 1, 1] and logh["dropped"] == [1, 0, 0, 0]  # 0 falls in the first bin
    empty = signal_histogram(docs.iloc[:0], "chars", bins=2)
    assert empty["kept"] == [0, 0]


def test_thresholds_from_the_rule_sets(fake_run, tmp_path):
    rules = fake_run.parent / "rules"
    got = rule_thresholds("chars", rules)
    assert sorted((t["lang"], t["rule"], t["bound"], t["value"], t["source"] or "") for t in got) == [
        ("default", "min_length", "min", 80.0, ""), ("zh", "min_length", "min", 10.0, "forums"),
        ("zh", "min_length", "min", 50.0, "")]
    assert [t["value"] for t in rule_thresholds("chars", rules, langs=["zh"]) if not t["source"]] == [50.0]
    assert [(t["bound"], t["value"]) for t in rule_thresholds("punct_share", rules)] == [("max", 0.3)]
    assert rule_thresholds("nope", rules) == []
    assert rules_dir_for(run_config(fake_run)) == rules
    assert rules_dir_for({}).name == "rules"
    assert run_config(tmp_path) == {}


def test_probing_finds_thresholds_not_gates():
    from corpus.quality.rules import RULES

    def probe(name, **params):
        return sorted(probe_rule(RULES[name](**{**{k: p.default for k, p in RULES[name].params.items()},
                                                   **params})))

    assert probe("word_count", min_words=50, max_words=1000) == [("words", "max", 1000.0), ("words", "min", 50.0)]
    # top_ngrams' min_units and line_punct's min_lines only decide whether a document is judged
    assert probe("top_ngrams", max_frac={2: 0.2}, min_units=200) == [("top_2gram_char_frac", "max", 0.2)]
    assert probe("line_punct", min_frac=0.2, min_lines=3) == [("line_punct_frac", "min", 0.2)]
    assert probe("dup_lines", max_frac=0.3, max_char_frac=0.2) == [
        ("dup_line_char_frac", "max", 0.2), ("dup_line_frac", "max", 0.3)]


def test_every_numeric_rule_of_the_packaged_sets_has_a_threshold():
    from corpus.config import RULES_DIR
    from corpus.quality.ruleset import load_rulesets

    found = {(t["lang"], t["rule"]) for t in all_thresholds(RULES_DIR)}
    for ruleset in {id(r): r for r in load_rulesets(RULES_DIR).values()}.values():
        lang = ",".join(ruleset.langs)
        for rule in ruleset.rules:
            if _numbers(rule.config):
                assert (lang, rule.name) in found, f"{ruleset.origin}: {rule.name}: no threshold found"


def test_main_signals_put_ruled_signals_first(fake_run):
    docs = load_stage(fake_run, "clean")
    assert main_signals(docs, fake_run.parent / "rules") == ["chars", "punct_share"]
    assert main_signals(docs, None) == ["chars", "punct_share"]
    # lang_share_latin has one value only: constant signals are left out
    assert main_signals(docs, None, top=1) == ["chars"]


def test_dropped_samples_are_seeded_and_per_rule(fake_run):
    docs = load_stage(fake_run, "clean")
    s = dropped_samples(docs, n=2, seed=7, chars=5)
    assert s["reason"].tolist() == ["min_length", "min_length", "punct_share", "punct_share", "language"]
    assert s["id"].tolist() == dropped_samples(docs.sample(frac=1, random_state=1), n=2, seed=7)["id"].tolist()
    assert all(len(p) <= 6 for p in s["preview"]) and s["preview"].iloc[-1] == "Bonjo…"
    assert dropped_samples(docs, reasons=["punct_share"], n=5)["reason"].tolist() == ["punct_share"] * 2
    assert dropped_samples(docs[docs["status"] == "kept"]).empty
    assert preview("a\nb", 10) == "a ⏎ b" and preview(None) == ""


def test_cjk_font_is_found():
    pytest.importorskip("matplotlib")
    name = find_cjk_font()
    assert name and "CJK" in name, "install a Noto CJK font (apt-get install fonts-noto-cjk)"
    assert setup_cjk_font() == name
    import matplotlib

    assert matplotlib.rcParams["font.sans-serif"][0] == name


def test_plot_histogram_draws_thresholds(fake_run):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = load_stage(fake_run, "clean")
    marks = rule_thresholds("chars", fake_run.parent / "rules")
    fig, ax = plt.subplots()
    plot_histogram(ax, signal_histogram(docs, "chars", marks=[m["value"] for m in marks]), marks)
    assert len(ax.get_lines()) == 3 and len(ax.patches) == 2
    assert "zh min_length min forums = 10" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_histogram(ax, signal_histogram(docs, "chars"), [{"rule": "max_words", "value": 1e6}])
    assert len(ax.get_lines()) == 1  # an empty legend entry, no line
    assert ax.get_legend().get_texts()[-1].get_text() == "max_words = 1e+06 (off scale)"
    plt.close(fig)


# --- dedup helpers on a dedup run made by hand ----------------------------------------------------

_DEDUP_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("url", pa.string()),
                           ("lang", pa.string()), ("text", pa.string()), ("quality_score", pa.float64()),
                           ("simhash", pa.int64()), ("cluster_id", pa.string())])
_DROPPED_SCHEMA = pa.schema(list(_DEDUP_SCHEMA) + [("reason", pa.string()), ("detail", pa.string())])
POEM = "早被嬋娟誤，欲妝臨鏡慵。\n年年越溪女，相憶採芙蓉。"
NEG = -(1 << 63) + 5  # the high bit set: a negative Spark long


@pytest.fixture(scope="module")
def dedup_run(tmp_path_factory):
    """Kept: A (zh), E (en), S (no fingerprint), L (alone). Dropped: B near A, C exact of B
    (a chain: C's detail names B, itself dropped), D exact of A, F near E, T exact of S."""
    root = tmp_path_factory.mktemp("fakededup") / "run"

    def row(i, text, simhash, source="books", lang="zh", url=None, **kw):
        return {"id": i, "source": source, "url": url, "lang": lang, "text": text, "quality_score": 0.5,
                "simhash": simhash, "cluster_id": kw.pop("cluster_id", i), **kw}

    kept = [row("A", POEM, 0b1011), row("E", "The quick brown fox jumps over the lazy dog <b>.", NEG, "web", "en",
                                       url="https://a/"),
            row("S", "短帖", None, "forums"), row("L", "独一无二的文章。", 7)]
    dropped = [row("B", POEM.replace("採", "采"), 0b1000, reason="near_duplicate", detail="A", cluster_id="A"),
               row("C", POEM.replace("採", "采"), 0b1000, reason="exact_duplicate", detail="B", cluster_id="B"),
               row("D", POEM, 0b1011, reason="exact_duplicate", detail="A", cluster_id="A"),
               row("F", "The quick red fox jumps over the lazy dog <b>.", NEG ^ 0b111, "web", "en",
                   reason="near_duplicate", detail="E", cluster_id="E"),
               row("T", "短帖 ", None, "forums", reason="exact_duplicate", detail="S", cluster_id="S")]
    for rel, rows, schema in (("dedup", kept, _DEDUP_SCHEMA), ("dropped/dedup", dropped, _DROPPED_SCHEMA)):
        (root / rel).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / rel / "part-00000.parquet")
    (root / "ledger").mkdir()
    counts = {}
    for r in kept + dropped:
        key = (r["source"], r["lang"], r.get("reason"))
        d, c = counts.get(key, (0, 0))
        counts[key] = (d + 1, c + len(r["text"]))
    pq.write_table(ledger_table("r1", "dedup", _rows(counts)),
                   root / "ledger" / "dedup.parquet")
    (root / "reports").mkdir()
    report = {"docs_in": 9, "pairs_within_k": 2, "capped_buckets": 0,
              "layout": {"k": 3, "blocks": 4, "tables": 4, "describe": "k=3: 4 blocks", "key_bits": [16] * 4,
                         "expected_candidates_per_doc": 0.5},
              "cluster_size_histogram": {"2": 2, "3": 1},  # what the stage counts by cluster_id
              "largest_clusters": [{"cluster_id": "A", "size": 3, "examples": [
                  {"id": "A", "url": None, "reason": None, "preview": POEM},
                  {"id": "B", "url": None, "reason": "near_duplicate", "preview": POEM}]}]}
    (root / "reports" / "dedup.json").write_text(json.dumps(report, ensure_ascii=False))
    (root / "manifest.json").write_text(json.dumps({"stages": {"dedup": _entry("dedup")}}))
    return root


def test_dedup_funnel_layout_and_report(dedup_run):
    f = dedup_funnel(load_funnel(dedup_run)).set_index("outcome")
    assert f["docs"].to_dict() == {"in": 9, "kept": 4, "exact_duplicate": 3, "near_duplicate": 2}
    assert f.loc["exact_duplicate", "docs_share"] == 3 / 9 and f.loc["in", "chars_share"] == 1.0
    with pytest.raises(KeyError):
        dedup_funnel(load_funnel(dedup_run), "clean")
    report = load_report(dedup_run)
    lay = layout_frame(report)["value"]
    assert lay["tables"] == 4 and lay["key bits"] == "16" and lay["pairs within k found"] == 2
    assert lay["expected candidate pairs (random fingerprints)"] == 0.5 * 9 / 2
    with pytest.raises(FileNotFoundError):
        load_report(dedup_run, "clean")
    rc = report_clusters(report, chars=5)
    assert rc["id"].tolist() == ["A", "B"] and rc["size"].tolist() == [3, 3] and rc["preview"][0] == "早被嬋娟誤…"


def test_hamming_of_signed_fingerprints():
    assert hamming(-1, 0) == 64 and hamming(NEG, NEG ^ 0b111) == 3 and hamming(5, 5) == 0
    assert hamming(None, 3) is None and hamming(pd.NA, 3) is None
    assert hamming(1.0, 1) is None  # a float fingerprint has lost bits
    got = hamming(pd.Series([-1, None, 0b1011], dtype="Int64"), [0, 1, 0b1000])
    assert got.isna().tolist() == [False, True, False] and got[0] == 64 and got[2] == 2
    rng = np.random.default_rng(0)
    x = rng.integers(-(1 << 63), (1 << 63) - 1, size=200, dtype=np.int64)
    assert popcount64(x).tolist() == [(int(v) & ((1 << 64) - 1)).bit_count() for v in x]


def test_dedup_clusters_resolve_chains_and_measure_hamming(dedup_run):
    m = dedup_clusters(dedup_run)
    assert list(m.columns) == MEMBER_COLUMNS
    by_id = m.set_index("id")
    assert by_id["rep_id"].to_dict() == {"A": "A", "B": "A", "C": "A", "D": "A", "E": "E", "F": "E",
                                         "S": "S", "T": "S"}  # L is in no cluster
    assert m[m["rep_id"] == "A"]["role"].tolist() == ["representative", "exact_duplicate", "exact_duplicate",
                                                      "near_duplicate"]
    assert by_id.loc["B", "hamming"] == 2 and by_id.loc["D", "hamming"] == 0 and by_id.loc["F", "hamming"] == 3
    assert pd.isna(by_id.loc["T", "hamming"]) and by_id.loc["E", "simhash"] == NEG  # exact, not float
    summary = cluster_summary(m)
    assert summary["rep_id"].tolist() == ["A", "E", "S"] and summary["size"].tolist() == [4, 2, 2]
    assert summary.iloc[0][["exact", "near", "max_hamming"]].tolist() == [2, 1, 2]
    sizes = cluster_sizes(m)
    assert sizes.values.tolist() == [[2, 2, 4], [4, 1, 4]]
    assert cluster_sizes(load_report(dedup_run)).values.tolist() == [[2, 2, 4], [3, 1, 3]]
    assert cluster_summary(m.iloc[:0]).empty and cluster_sizes(m.iloc[:0]).empty
    assert resolve_representatives(pd.DataFrame({"id": ["x", "y"], "detail": ["y", "x"]})).notna().all()


def test_pick_clusters_and_cluster_docs(dedup_run):
    m = dedup_clusters(dedup_run)
    assert pick_clusters(m, n=2, seed=0) == ["A", "E"]  # near duplicates first, then size
    assert sorted(pick_clusters(m, n=2, seed=1)) == ["A", "E"]
    assert pick_clusters(m, n=1, near_first=False) == ["A"]
    assert pick_clusters(m.iloc[:0]) == []
    docs = cluster_docs(dedup_run, m, ["E", "A"])
    assert docs["rep_id"].tolist() == ["E", "E", "A", "A", "A", "A"]
    assert docs.set_index("id")["text"]["C"] == POEM.replace("採", "采")
    assert docs["chars"].iloc[0] == len(docs["text"].iloc[0])


def test_size_bins_and_plot_cluster_sizes():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    few = pd.DataFrame({"size": [2, 3], "clusters": [5, 1]}).assign(docs=lambda d: d["size"] * d["clusters"])
    assert size_bins(few)["label"].tolist() == ["2", "3"]
    many = pd.DataFrame({"size": range(2, 40), "clusters": [1000] + [1] * 37})
    many["docs"] = many["size"] * many["clusters"]
    bins = size_bins(many, max_bars=10)
    assert bins["label"].tolist() == ["2", "3-4", "5-8", "9-16", "17-32", "33-64"]
    assert bins["clusters"].sum() == many["clusters"].sum() and bins["docs"].sum() == many["docs"].sum()
    fig, ax = plt.subplots()
    assert plot_cluster_sizes(ax, many, max_bars=10) and ax.get_yscale() == "log"
    assert len(ax.patches) == 6 and ax.get_xticklabels()[1].get_text() == "3-4"
    plt.close(fig)
    fig, ax = plt.subplots()
    assert not plot_cluster_sizes(ax, few) and len(ax.patches) == 2
    plt.close(fig)
    fig, ax = plt.subplots()
    assert not plot_cluster_sizes(ax, few.iloc[:0]) and not ax.patches
    plt.close(fig)


def test_diff_is_by_character_for_cjk_and_by_word_otherwise():
    text = "AI2’s model，中文abc 相憶 x\n"
    assert "".join(diff_tokens(text)) == text
    assert diff_tokens("相憶採芙蓉 quick fox") == ["相", "憶", "採", "芙", "蓉", " ", "quick", " ", "fox"]
    a, b, ratio = diff_marks("年年越溪女，相憶採芙蓉。", "年年越溪女，相憶采芙蓉。")
    assert [s for s, changed in a if changed] == ["採"] and [s for s, changed in b if changed] == ["采"]
    assert "".join(s for s, _ in a) == "年年越溪女，相憶採芙蓉。" and 0.9 < ratio < 1
    a, b, _ = diff_marks("the quick brown fox", "the quick red fox")
    assert [s for s, c in a if c] == ["brown"] and [s for s, c in b if c] == ["red"]
    assert diff_marks("", "")[2] == 1.0


def test_side_by_side_html(dedup_run):
    m = dedup_clusters(dedup_run)
    docs = cluster_docs(dedup_run, m, ["A", "E", "S"])
    html = side_by_side_html(docs[docs["rep_id"] == "A"])
    assert f'<table class="{SIDE_BY_SIDE_CLASS}"' in html and html.count("<th>") == 4
    assert html.index("<b>representative</b>") < html.index("<b>exact_duplicate</b>") < html.index(
        "<b>near_duplicate</b>")
    assert '<span class="del">採</span>' in html and html.count('<span class="ins">采</span>') == 2
    assert "Hamming —" in html and "Hamming 2" in html and "Hamming 0" in html and "similarity 100.0%" in html
    two = side_by_side_html(docs[docs["rep_id"] == "A"], max_columns=2)
    assert two.count("<th>") == 2 and "(2 more not shown)" in two
    en = side_by_side_html(docs[docs["rep_id"] == "E"])
    assert '<span class="del">brown</span>' in en and '<span class="ins">red</span>' in en
    assert "&lt;b&gt;" in en and "<b>.</b>" not in en and "https://a/" in en and "Hamming 3" in en
    short = side_by_side_html(docs[docs["rep_id"] == "S"])
    assert "Hamming n/a (no fingerprint)" in short and '<span class="ins">·</span>' in short  # a trailing space
    cut = side_by_side_html(docs[docs["rep_id"] == "A"], max_chars=5)
    assert "more characters" in cut and "芙蓉" not in cut
    no_text = docs[docs["rep_id"] == "A"].assign(text=lambda d: [d["text"].iloc[0]] + [""] * (len(d) - 1))
    assert "text not kept" in side_by_side_html(no_text)
    assert side_by_side_html(docs.iloc[:0]) == "<p>no cluster</p>"


# --- balance (topics) helpers on a balanced run made by hand ----------------------------------------

_BALANCE_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("lang", pa.string()),
                             ("title", pa.string()), ("text", pa.string()), ("topic", pa.string()),
                             ("topic_score", pa.float32()), ("repeat", pa.int32())])
_BALANCE_DROPPED_SCHEMA = pa.schema(list(_BALANCE_SCHEMA) + [("reason", pa.string()), ("detail", pa.string())])


def _cell(cell, docs, kept, rows, before, after, target, planned, realised, rate):
    lang, topic = cell.split("/")
    return {"cell": cell, "lang": lang, "topic": topic, "docs": docs, "size_before": before, "tokens_before": before,
            "target_share": target, "planned_share": planned, "rate": rate, "size_after": after,
            "tokens_after": after, "realised_share": realised, "repeat_factor": after / before,
            "docs_kept": kept, "docs_dropped": docs - kept, "rows": rows}


@pytest.fixture(scope="module")
def balance_run(tmp_path_factory):
    """zh/finance F1, F2 (web) twice each; zh/dialogue D1, D2 kept, D3 downsampled (forums);
    en/other E1 (web) once. Two shards; the model's report.json in a folder of its own."""
    root = tmp_path_factory.mktemp("fakebalance") / "run"
    models = root.parent / "models" / "topics"
    models.mkdir(parents=True)

    def row(i, source, lang, topic, repeat, text, title=None, score=0.9, **kw):
        return {"id": i, "source": source, "lang": lang, "title": title, "text": text, "topic": topic,
                "topic_score": score, "repeat": repeat, **kw}

    f1, f2 = "股市今日大涨，沪指收复三千点。", "基金净值创新高"
    shard0 = [row("F1", "web", "zh", "finance", 0, f1, title="股市"), row("F2", "web", "zh", "finance", 0, f2),
              row("D1", "forums", "zh", "dialogue", 0, "你好\n你也好", score=1.0),
              row("D2", "forums", "zh", "dialogue", 0, "吃了吗")]
    shard1 = [row("F1", "web", "zh", "finance", 1, f1, title="股市"), row("F2", "web", "zh", "finance", 1, f2),
              row("E1", "web", "en", "other", 0, "Hello world " * 30, score=0.1)]
    dropped = [row("D3", "forums", "zh", "dialogue", 0, "再见", reason="downsampled",
                   detail="zh/dialogue rate=0.6667")]
    for rel, rows, schema in (("balance/part-00000.parquet", shard0, _BALANCE_SCHEMA),
                              ("balance/part-00001.parquet", shard1, _BALANCE_SCHEMA),
                              ("dropped/balance/part-00000.parquet", dropped, _BALANCE_DROPPED_SCHEMA)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / rel)
    cells = [_cell("en/other", 1, 1, 1, 20, 20, 0.2, 0.2, 0.2, 1.0),
             _cell("zh/dialogue", 3, 2, 2, 20, 14, 0.4, 0.4, 0.14, 0.6667),
             _cell("zh/finance", 2, 2, 4, 60, 120, 0.4, 0.4, 0.66, 2.0)]
    manifest = {"format": "corpus-balance-1", "unit": "tokens", "seed": 1, "alpha": 0.5, "max_repeat": 4,
                "languages": {}, "shares": {"zh/finance": 0.5}, "size_before": 100, "size_after": 154,
                "output_size_asked": 100, "rows": 7, "effective_cells_before": 2.5, "effective_cells_after": 2.3,
                "kl_realised_target": 0.125, "kl_realised_planned": 0.0625, "max_tv_from_overall": 0.25,
                "cells": cells,
                "shards": [{"path": "balance/part-00000.parquet", "rows": 4, "bytes": 1000, "sha256": "ab" * 32,
                            "tokens": 60, "size": 60, "cells": {"zh/finance": 2, "zh/dialogue": 2},
                            "tv_from_overall": 0.25},
                           {"path": "balance/part-00001.parquet", "rows": 3, "bytes": 900, "sha256": "cd" * 32,
                            "tokens": 94, "size": 94, "cells": {"zh/finance": 2, "en/other": 1},
                            "tv_from_overall": 0.2}]}
    (root / "balance" / "_manifest.json").write_text(json.dumps(manifest))
    per_class = {"finance": {"precision": 0.9, "recall": 0.75, "f1": 0.82, "support": 4},
                 "sports": {"precision": 0.5, "recall": 1.0, "f1": 0.67, "support": 1}}
    report = {"model": "model.ftz", "sha256": "f" * 64, "min_score": 0.5,
              "thucnews_test": {"topics": {"n": 5, "accuracy": 0.8, "macro_f1": 0.74, "per_class": per_class,
                                           "confusion": {"finance": {"finance": 3, "sports": 1, "(other)": 0},
                                                         "sports": {"sports": 1}}},
                                "topics_with_min_score": {"accuracy": 0.6, "macro_f1": 0.6, "fallback_share": 0.2}},
              "heldout_other_data": {"n": 2, "per_class": {
                  "dialogue": {"precision": 1.0, "recall": 0.5, "f1": 0.67, "support": 2}}}}
    (models / "report.json").write_text(json.dumps(report))
    (root / "config.yaml").write_text(f"topics:\n  model: {models / 'model.ftz'}\n")
    (root / "manifest.json").write_text(json.dumps({"stages": {"balance": {
        **_entry("balance"), "files": {str(models / "model.ftz"): "f" * 64}}}}))
    return root


def test_topics_cells_mix_and_shards(balance_run):
    manifest = load_manifest(balance_run)
    cells = cells_frame(manifest)
    assert cells.index.tolist() == ["zh/finance", "en/other", "zh/dialogue"]  # by size before, then name
    assert cells.loc["zh/dialogue", ["docs_kept", "docs_dropped", "rows"]].tolist() == [2, 1, 2]
    assert cells["before_share"].tolist() == [0.6, 0.2, 0.2] and cells.loc["zh/finance", "repeat_factor"] == 2.0
    mix = mix_frame(manifest)
    assert list(mix.columns) == ["label", "before", "target", "planned", "after"]
    assert mix.loc["zh/finance", "label"] == "zh/finance 财经" and mix.loc["zh/finance", "after"] == 0.66
    assert mix[["before", "target", "planned"]].sum().round(9).tolist() == [1.0, 1.0, 1.0]
    summary = mix_summary(manifest)["value"]
    assert summary["effective cells before"] == "2.5" and summary["KL(realised ‖ target)"] == "0.125"
    assert summary["shards"] == "2" and summary["shares (fixed)"] == '{"zh/finance": 0.5}'
    assert summary["languages (fixed)"] == "input shares"
    shards = shard_frame(manifest)
    assert shards["rows"].tolist() == [4, 3] and shards["cells"].tolist() == [2, 2]
    assert shards["top_cell"].tolist() == ["zh/dialogue (50%)", "zh/finance (67%)"]  # ties: first by name
    assert shards["sha256"][0] == "ab" * 8
    with pytest.raises(FileNotFoundError):
        load_manifest(balance_run.parent)
    assert cells_frame({"cells": []}).empty and shard_frame({"shards": []}).empty
    assert topic_label("games") == "games 游戏" and topic_label("(other)") == "(other) 其他"
    assert topic_label("cooking") == "cooking" and cell_label("en/other") == "en/other 其他"


def test_topics_per_source_counts_first_copies_and_drops(balance_run):
    got = topics_per_source(balance_run).set_index(["source", "topic"])
    assert got.index.tolist() == [("forums", "dialogue"), ("web", "finance"), ("web", "other")]
    assert got.loc[("forums", "dialogue"), ["docs_in", "docs_kept", "docs_dropped", "rows"]].tolist() == [3, 2, 1, 2]
    assert got.loc[("web", "finance"), ["docs_in", "docs_kept", "docs_dropped", "rows"]].tolist() == [2, 2, 0, 4]
    assert got.loc[("web", "finance"), "kept_share"] == 2 / 3 and got.loc[("forums", "dialogue"), "kept_share"] == 1.0


def test_topic_examples_are_seeded_first_copies(balance_run):
    ex = topic_examples(balance_run, n=1, seed=0, chars=5)
    assert ex["topic"].tolist() == ["dialogue", "finance", "other"]  # by kept documents, then name
    assert ex.equals(topic_examples(balance_run, n=1, seed=0, chars=5))
    fin = ex.set_index("topic").loc["finance"]
    assert fin["copies"] == 2 and fin["id"] in ("F1", "F2") and fin["preview"].endswith("…")
    assert ex.set_index("topic").loc["other", "chars"] == len("Hello world " * 30)
    both = topic_examples(balance_run, n=5, topics=["finance"])
    assert sorted(both["id"]) == ["F1", "F2"] and both.set_index("id").loc["F1", "title"] == "股市"
    assert both.set_index("id").loc["F1", "preview"] == "股市今日大涨，沪指收复三千点。"
    assert topic_examples(balance_run, topics=["sports"]).empty


def test_topics_classifier_report_confusion_and_metrics(balance_run):
    assert model_report_path(balance_run) == balance_run.parent / "models" / "topics" / "report.json"
    assert model_report_path({}) == REPO / "models" / "topics" / "report.json"
    report = load_model_report(balance_run)
    assert model_matches_run(balance_run, report) is True
    assert model_matches_run(balance_run, {**report, "sha256": "0" * 64}) is False
    conf = confusion_frame(report)
    assert conf.index.tolist() == ["finance", "sports"] and conf.columns.tolist() == ["finance", "sports", "(other)"]
    assert conf.loc["sports"].tolist() == [0, 1, 0] and conf.loc["finance", "sports"] == 1
    metrics = per_topic_metrics(report)
    assert metrics.index.tolist() == ["finance", "sports", "dialogue"]
    assert metrics.loc["finance", ["precision", "recall"]].tolist() == [0.9, 0.75]
    assert metrics.loc["dialogue", "evaluated_on"] == "held-out sources"
    assert metrics.loc["sports", "label"] == "sports 体育"
    with pytest.raises(FileNotFoundError):
        load_model_report({"topics": {"model": str(balance_run / "nowhere" / "model.ftz")}})
    default = load_model_report({})  # the bundled model's card
    assert set(confusion_frame(default).index) <= set(default["topics"])


def test_topic_plots_draw_chinese_with_a_cjk_font(balance_run):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    assert setup_cjk_font()
    mix = mix_frame(load_manifest(balance_run))
    fig, ax = plt.subplots()
    plot_mix(ax, mix, columns=("before", "target", "after"), log=True)
    fig.canvas.draw()
    assert len(ax.patches) == 9 and ax.get_xscale() == "log"
    labels = ax.get_yticklabels()
    assert labels[-1].get_text() == "zh/finance 财经"  # the biggest cell on top
    assert "CJK" in font_manager.findfont(labels[-1].get_fontproperties())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["均衡前 before", "目标 target", "均衡后 after"]
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_confusion(ax, confusion_frame(load_model_report(balance_run)))
    fig.canvas.draw()
    assert ax.get_images()[0].get_array().tolist() == [[0.75, 0.25, 0.0], [0.0, 1.0, 0.0]]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "3"]  # zero counts are not written
    assert [t.get_text() for t in ax.get_xticklabels()] == ["finance 财经", "sports 体育", "(other) 其他"]
    assert "预测" in ax.get_xlabel() and "CJK" in font_manager.findfont(ax.xaxis.label.get_fontproperties())
    plt.close(fig)


# --- the notebooks on a real run of the sample --------------------------------------------------

@pytest.mark.parametrize("path", [NOTEBOOK, DEDUP_NOTEBOOK, DECONTAM_NOTEBOOK, TOPICS_NOTEBOOK],
                         ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert any("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


@pytest.mark.parametrize("path", [NOTEBOOK, DEDUP_NOTEBOOK, DECONTAM_NOTEBOOK, TOPICS_NOTEBOOK],
                         ids=lambda p: p.stem)
def test_notebook_defaults_to_the_demo_run_and_says_so(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = "".join(nb["cells"][0]["source"])
    assert "CORPUS_RUN_DIR" in first and "runs/sample" in first and "scripts/demo.sh" in first
    params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert "RUN_DIR = default_run_dir()" in "".join(params["source"])


def test_default_run_dir(tmp_path, monkeypatch):
    from corpus.explore.run import default_run_dir

    monkeypatch.delenv("CORPUS_RUN_DIR", raising=False)
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repo / "notebooks").mkdir(parents=True)
    elsewhere.mkdir()
    with pytest.raises(FileNotFoundError, match="scripts/demo.sh"):
        default_run_dir(cwd=repo / "notebooks", repo=repo)
    (repo / "runs" / "sample").mkdir(parents=True)
    (repo / "runs" / "sample" / "manifest.json").write_text("{}")
    want = str(repo / "runs" / "sample")
    assert default_run_dir(cwd=repo / "notebooks", repo=tmp_path / "none") == want  # a kernel in notebooks/
    assert default_run_dir(cwd=repo, repo=tmp_path / "none") == want
    assert default_run_dir(cwd=elsewhere, repo=repo) == want  # the checkout corpus is imported from
    monkeypatch.setenv("CORPUS_RUN_DIR", "s3a://bucket/run")
    assert default_run_dir(cwd=elsewhere, repo=tmp_path / "none") == "s3a://bucket/run"


def _execute(path, run_dir, monkeypatch, parameters: str | None = None, cwd=None):
    """Run a notebook headless against run_dir (None: CORPUS_RUN_DIR unset) in `cwd` (default:
    the notebook's folder, as Jupyter does); `parameters` is code injected after its
    parameters cell (as papermill does). Returns (outputs, stdout, stderr)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    if run_dir is None:
        monkeypatch.delenv("CORPUS_RUN_DIR", raising=False)
    else:
        monkeypatch.setenv("CORPUS_RUN_DIR", str(run_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(parameters, metadata={"tags": ["injected-parameters"]}))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "CJK font: Noto S" in stdout  # Noto Sans CJK .. or Noto Serif CJK ..
    assert "missing from font" not in stderr  # matplotlib's warning for glyphs it cannot draw
    return outputs, stdout, stderr


def test_notebook_runs_on_the_sample_run(sample_run, monkeypatch):
    # the run goes on to dedup; this notebook defaults to the last stage, so ask for clean
    outputs, stdout, _ = _execute(NOTEBOOK, sample_run, monkeypatch, parameters='STAGE = "clean"')
    assert "inspecting stage clean" in stdout
    plain = "".join(o.data.get("text/plain", "") for o in outputs if "data" in o)
    assert "in_docs" in plain and "kept_docs" in plain and "ingest" in plain and "clean" in plain
    assert "books" in plain and "forums" in plain and "web" in plain  # per source
    pngs = [o for o in outputs if "data" in o and "image/png" in o.data]
    assert len(pngs) >= 1


def test_dedup_notebook_runs_on_the_sample_run(sample_run, monkeypatch):
    outputs, stdout, _ = _execute(DEDUP_NOTEBOOK, sample_run, monkeypatch)
    assert "'dedup'" in stdout and "dropped table has simhash values: True" in stdout
    plain = "".join(o.data.get("text/plain", "") for o in outputs if "data" in o)
    assert "exact_duplicate" in plain and "near_duplicate" in plain and "pairs within k found" in plain
    assert [o for o in outputs if "data" in o and "image/png" in o.data]  # the cluster size histogram
    tables = [o.data["text/html"] for o in outputs
              if "data" in o and SIDE_BY_SIDE_CLASS in o.data.get("text/html", "")]
    assert tables, "no side-by-side table"
    assert all("<b>representative</b>" in t and "Hamming " in t for t in tables)
    assert any('<span class="ins">' in t and "<b>near_duplicate</b>" in t for t in tables)  # the sample has some


def test_decontamination_notebook_runs_on_the_sample_run(sample_run, monkeypatch):
    """Runs everywhere (CI included); what it finds is checked with ../shared/data, whose
    benchmarks the sample's 论语 chapter matches (without them no benchmark file is found)."""
    from corpus.explore.decontam import EXAMPLES_CLASS
    from tests.conftest import SHARED

    outputs, stdout, _ = _execute(DECONTAM_NOTEBOOK, sample_run, monkeypatch)
    assert "'decontaminate'" in stdout and "documents contaminated" in stdout
    if not SHARED.is_dir():
        return
    plain = "".join(o.data.get("text/plain", "") for o in outputs if "data" in o)
    for word in ("contaminated", "distinct n-grams", "items_hit", "cmmlu", "gsm8k", "c3"):
        assert word in plain, word
    assert [o for o in outputs if "data" in o and "image/png" in o.data]  # documents hit per benchmark
    tables = [o.data["text/html"] for o in outputs if "data" in o and EXAMPLES_CLASS in o.data.get("text/html", "")]
    assert tables and "<mark>" in tables[0] and "cmmlu" in tables[0]  # the sample's 论语 is quoted by CMMLU


def test_topics_notebook_runs_on_the_sample_run(sample_run, monkeypatch):
    outputs, stdout, _ = _execute(TOPICS_NOTEBOOK, sample_run, monkeypatch)
    assert "'balance'" in stdout and "effective cells:" in stdout and "KL(realised ‖ target)" in stdout
    assert "describes the model the run used: True" in stdout
    plain = "".join(o.data.get("text/plain", "") for o in outputs if "data" in o)
    for word in ("zh/literature", "zh/dialogue", "target_share", "realised_share", "repeat_factor", "docs_dropped",
                 "books", "forums", "part-00000.parquet", "tv_from_overall", "precision", "recall",
                 "literature 文学"):
        assert word in plain, word
    assert len([o for o in outputs if "data" in o and "image/png" in o.data]) == 2  # the mix, the confusion matrix


def test_notebook_without_corpus_run_dir_reads_the_demo_run(sample_run, tmp_path, monkeypatch):
    """As the README says: with CORPUS_RUN_DIR unset, a notebook started in notebooks/ reads the
    demo's run directory, runs/sample (here a link to the sample run in a stand-in checkout)."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "sample").symlink_to(sample_run, target_is_directory=True)
    _, stdout, _ = _execute(TOPICS_NOTEBOOK, None, monkeypatch, cwd=tmp_path / "notebooks")
    assert f"stages of {tmp_path / 'runs' / 'sample'}" in stdout and "'balance'" in stdout


def test_cluster_summary_counts_minhash_drops_as_near():
    import pandas as pd

    m = pd.DataFrame({"rep_id": ["r", "r", "r", "r"], "id": ["r", "a", "b", "c"],
                      "role": ["representative", "exact_duplicate", "near_duplicate", "minhash_duplicate"],
                      "hamming": [0, 0, 3, 9], "source": ["web"] * 4, "lang": ["zh"] * 4})
    row = cluster_summary(m).iloc[0]
    assert (row["size"], row["exact"], row["near"], row["max_hamming"]) == (4, 1, 2, 9)
