"""The inspection notebook runs headless on a real run of the sample; corpus.inspect's helpers."""

import json
import math
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus import inspect as ci
from corpus.config import load_config
from corpus.ledger import ledger_table
from tests.conftest import REPO, SAMPLE

NOTEBOOK = REPO / "notebooks" / "filter_stats.ipynb"
INPUTS = [f"warc:{SAMPLE / 'warc'}", f"books:{SAMPLE / 'books'}", f"forums:{SAMPLE / 'forums'}"]


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
    pq.write_table(ledger_table("r1", "clean", [(*k, *v) for k, v in counts.items()]),
                   root / "ledger" / "clean.parquet")
    pq.write_table(ledger_table("r1", "ingest", [("web", None, None, 12, 1000), ("web", None, "non_html", 3, 0)]),
                   root / "ledger" / "ingest.parquet")
    (root / "manifest.json").write_text(json.dumps({"stages": {"clean": {}, "ingest": {}}}))
    (root / "config.yaml").write_text(f"clean:\n  rules_dir: {rules}\n  classifier: {{threshold: 0.6}}\n")
    return root


def test_funnel_frames(fake_run):
    funnel = ci.load_funnel(fake_run)
    summary, groups, _ = ci.funnel_frames(funnel)
    assert summary["stage"].tolist() == ["ingest", "clean"]
    clean = summary.set_index("stage").loc["clean"]
    assert (clean["in_docs"], clean["kept_docs"], clean["dropped_docs"]) == (12, 6, 6)
    assert clean["kept_docs_share"] == 0.5
    assert groups[groups["stage"] == "clean"]["in_docs"].sum() == 12
    assert set(groups[groups["stage"] == "ingest"]["lang"]) == {"-"}
    rule_drops = ci.drops_per_rule(funnel, "clean")
    assert rule_drops["reason"].tolist() == ["min_length", "punct_share", "language"]
    assert rule_drops["docs"].tolist() == [3, 2, 1]
    assert rule_drops["share_of_in"].iloc[0] == 3 / 12
    assert ci.drops_per_rule(funnel, "ingest")["reason"].tolist() == ["non_html"]
    assert ci.committed_stages(fake_run) == ["ingest", "clean"]


def test_load_stage_has_status_and_signal_columns(fake_run):
    docs = ci.load_stage(fake_run, "clean")
    assert docs["status"].value_counts().to_dict() == {"kept": 6, "dropped": 6}
    assert docs.loc[docs["status"] == "kept", "reason"].isna().all()
    assert docs.loc[docs["status"] == "dropped", "reason"].notna().all()
    assert ci.signal_names(docs) == ["chars", "lang_share_latin", "punct_share"]
    assert docs["sig.lang_share_latin"].notna().sum() == 1  # NaN where a doc lacks the signal
    assert docs.loc[0, "meta"] == {"k": "v"}
    narrow = ci.load_stage(fake_run, "clean", columns=["id", "signals"], expand_signals=False)
    assert set(narrow.columns) == {"status", "id", "reason", "detail", "signals"}
    assert isinstance(narrow.loc[0, "signals"], dict)
    a = ci.load_stage(fake_run, "clean", limit=2, seed=3)
    b = ci.load_stage(fake_run, "clean", limit=2, seed=3)
    assert len(a) == 4 and a["id"].tolist() == b["id"].tolist()
    with pytest.raises(FileNotFoundError):
        ci.load_stage(fake_run, "dedup")


def test_signals_frame_from_python_maps():
    df = ci.signals_frame([[("a", 1.0)], {"b": 2.0, "a": 3.0}, None])
    assert list(df.columns) == ["sig.a", "sig.b"]
    assert df["sig.a"].tolist()[:2] == [1.0, 3.0] and math.isnan(df["sig.b"][0]) and df.iloc[2].isna().all()


def test_signal_histogram(fake_run):
    docs = ci.load_stage(fake_run, "clean")
    h = ci.signal_histogram(docs, "chars", bins=10)
    assert len(h["edges"]) == 11 and len(h["kept"]) == len(h["dropped"]) == 10
    assert sum(h["kept"]) == 6 and sum(h["dropped"]) == 5 and h["missing"] == {"kept": 0, "dropped": 1}
    assert h["edges"][0] == 10.0
    wide = ci.signal_histogram(docs, "chars", bins=10, marks=[150, float("nan")])
    assert wide["edges"][-1] == 150.0 and sum(wide["kept"]) == 6
    far = ci.signal_histogram(docs, "chars", bins=10, marks=[100_000])  # not worth squashing for
    assert far["edges"][-1] < 1000 and not far["log_x"]
    fixed = ci.signal_histogram(docs, "chars", bins=2, value_range=(50, 60))  # outside: end bins
    assert fixed["dropped"] == [3, 2] and fixed["kept"] == [0, 6]
    q = ci.score_histogram(docs, bins=4)
    assert q["edges"] == [0.0, 0.25, 0.5, 0.75, 1.0] and sum(q["kept"]) == 6
    assert q["missing"]["dropped"] == 6
    lengths = pd.DataFrame({"status": ["kept"] * 4 + ["dropped"], "sig.chars": [0.0, 50, 5000, 90000, 3]})
    logh = ci.signal_histogram(lengths, "chars", bins=4, clip=None)
    assert logh["log_x"] and logh["edges"][0] == 1.0 and logh["edges"][-1] == 90000.0
    assert logh["kept"] == [1, 1, 1, 1] and logh["dropped"] == [1, 0, 0, 0]  # 0 falls in the first bin
    empty = ci.signal_histogram(docs.iloc[:0], "chars", bins=2)
    assert empty["kept"] == [0, 0]


def test_thresholds_from_the_rule_sets(fake_run, tmp_path):
    rules = fake_run.parent / "rules"
    got = ci.rule_thresholds("chars", rules)
    assert sorted((t["lang"], t["rule"], t["bound"], t["value"], t["source"] or "") for t in got) == [
        ("default", "min_length", "min", 80.0, ""), ("zh", "min_length", "min", 10.0, "forums"),
        ("zh", "min_length", "min", 50.0, "")]
    assert [t["value"] for t in ci.rule_thresholds("chars", rules, langs=["zh"]) if not t["source"]] == [50.0]
    assert [(t["bound"], t["value"]) for t in ci.rule_thresholds("punct_share", rules)] == [("max", 0.3)]
    assert ci.rule_thresholds("nope", rules) == []
    assert ci.rules_dir_for(ci.run_config(fake_run)) == rules
    assert ci.rules_dir_for({}).name == "rules"
    assert ci.run_config(tmp_path) == {}


def test_probing_finds_thresholds_not_gates():
    from corpus.quality.rules import RULES

    def probe(name, **params):
        return sorted(ci.probe_rule(RULES[name](**{**{k: p.default for k, p in RULES[name].params.items()},
                                                   **params})))

    assert probe("word_count", min_words=50, max_words=1000) == [("words", "max", 1000.0), ("words", "min", 50.0)]
    # top_ngrams' min_units and line_punct's min_lines only decide whether a document is judged
    assert probe("top_ngrams", max_frac={2: 0.2}, min_units=200) == [("top_2gram_char_frac", "max", 0.2)]
    assert probe("line_punct", min_frac=0.2, min_lines=3) == [("line_punct_frac", "min", 0.2)]
    assert probe("dup_lines", max_frac=0.3, max_char_frac=0.2) == [
        ("dup_line_char_frac", "max", 0.2), ("dup_line_frac", "max", 0.3)]


def test_every_numeric_rule_of_the_packaged_sets_has_a_threshold():
    from corpus.config import RULES_DIR
    from corpus.quality.rules import load_rulesets

    found = {(t["lang"], t["rule"]) for t in ci.all_thresholds(RULES_DIR)}
    for ruleset in {id(r): r for r in load_rulesets(RULES_DIR).values()}.values():
        lang = ",".join(ruleset.langs)
        for rule in ruleset.rules:
            if ci._numbers(rule.config):
                assert (lang, rule.name) in found, f"{ruleset.origin}: {rule.name}: no threshold found"


def test_main_signals_put_ruled_signals_first(fake_run):
    docs = ci.load_stage(fake_run, "clean")
    assert ci.main_signals(docs, fake_run.parent / "rules") == ["chars", "punct_share"]
    assert ci.main_signals(docs, None) == ["chars", "punct_share"]
    # lang_share_latin has one value only: constant signals are left out
    assert ci.main_signals(docs, None, top=1) == ["chars"]


def test_dropped_samples_are_seeded_and_per_rule(fake_run):
    docs = ci.load_stage(fake_run, "clean")
    s = ci.dropped_samples(docs, n=2, seed=7, chars=5)
    assert s["reason"].tolist() == ["min_length", "min_length", "punct_share", "punct_share", "language"]
    assert s["id"].tolist() == ci.dropped_samples(docs.sample(frac=1, random_state=1), n=2, seed=7)["id"].tolist()
    assert all(len(p) <= 6 for p in s["preview"]) and s["preview"].iloc[-1] == "Bonjo…"
    assert ci.dropped_samples(docs, reasons=["punct_share"], n=5)["reason"].tolist() == ["punct_share"] * 2
    assert ci.dropped_samples(docs[docs["status"] == "kept"]).empty
    assert ci.preview("a\nb", 10) == "a ⏎ b" and ci.preview(None) == ""


def test_cjk_font_is_found():
    pytest.importorskip("matplotlib")
    name = ci.find_cjk_font()
    assert name and "CJK" in name, "install a Noto CJK font (apt-get install fonts-noto-cjk)"
    assert ci.setup_cjk_font() == name
    import matplotlib

    assert matplotlib.rcParams["font.sans-serif"][0] == name


def test_plot_histogram_draws_thresholds(fake_run):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = ci.load_stage(fake_run, "clean")
    marks = ci.rule_thresholds("chars", fake_run.parent / "rules")
    fig, ax = plt.subplots()
    ci.plot_histogram(ax, ci.signal_histogram(docs, "chars", marks=[m["value"] for m in marks]), marks)
    assert len(ax.get_lines()) == 3 and len(ax.patches) == 2
    assert "zh min_length min forums = 10" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    fig, ax = plt.subplots()
    ci.plot_histogram(ax, ci.signal_histogram(docs, "chars"), [{"rule": "max_words", "value": 1e6}])
    assert len(ax.get_lines()) == 1  # an empty legend entry, no line
    assert ax.get_legend().get_texts()[-1].get_text() == "max_words = 1e+06 (off scale)"
    plt.close(fig)


# --- the notebook on a real run of the sample --------------------------------------------------

def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert any("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


@pytest.fixture(scope="module")
def clean_run(spark, tmp_path_factory):
    from corpus import pipeline

    out = tmp_path_factory.mktemp("nbrun") / "sample"
    pipeline.run_pipeline(str(out), INPUTS, load_config(), stages=["ingest", "clean"])
    return out


def test_notebook_runs_on_the_sample_run(clean_run, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("CORPUS_RUN_DIR", str(clean_run))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "CJK font: Noto S" in stdout  # Noto Sans CJK .. or Noto Serif CJK ..
    assert "missing from font" not in stderr  # matplotlib's warning for glyphs it cannot draw
    assert "inspecting stage clean" in stdout
    plain = "".join(o.data.get("text/plain", "") for o in outputs if "data" in o)
    assert "in_docs" in plain and "kept_docs" in plain and "ingest" in plain and "clean" in plain
    assert "books" in plain and "forums" in plain and "web" in plain  # per source
    pngs = [o for o in outputs if "data" in o and "image/png" in o.data]
    assert len(pngs) >= 1
