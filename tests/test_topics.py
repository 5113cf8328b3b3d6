"""The topic classifier: taxonomy checks, input construction, the labeller, deterministic
training, the shipped model against its own report, and `corpus train-topics` (no Spark)."""

from __future__ import annotations

import json
import os

import pytest

from corpus.config import load_config, project_path
from corpus.config_schema import ConfigError
from corpus.topics.classify import TopicClassifier, cached_classifier, doc_head, features
from corpus.topics.taxonomy import load_taxonomy, parse_taxonomy
from corpus.topics.train import evaluate, read_thucnews, train_topics

TAXONOMY = "rules/topics.yaml"
MODEL = "models/topics/model.ftz"


# ---------------------------------------------------------------- taxonomy

def test_shipped_taxonomy():
    tax = load_taxonomy(TAXONOMY)
    assert 10 <= len(tax.topics) <= 25
    assert tax.fallback == "other" and "other" in tax.topics
    assert tax.topic_of("thucnews:stocks") == tax.topic_of("thucnews:finance") == "finance"
    assert tax.topic_of("source:books") == "literature"
    assert tax.topic_of("topic:sports") == "sports"
    classes, _, _ = read_thucnews("sample/topics/thucnews_titles")
    assert len(classes) == 10
    for c in classes:
        tax.topic_of(f"thucnews:{c}")


@pytest.mark.parametrize("data, key", [
    ({"topics": {"a": {"description": "x"}}}, "fallback"),
    ({"fallback": "other", "topics": {"a": {"description": "x"}}}, "fallback"),
    ({"fallback": "a", "topics": {"a": {"description": ""}}}, "topics.a.description"),
    ({"fallback": "a", "topics": {"a": {"description": "x", "colour": 1}}}, "topics.a.colour"),
    ({"fallback": "a", "topics": {"a": {"description": "x"}, "B c": {"description": "y"}}}, "topics.B c"),
    ({"fallback": "o", "topics": {"o": {"description": "x"},
                                  "a": {"description": "x", "labels": {"wiki": ["x"]}}}}, "topics.a.labels.wiki"),
    ({"fallback": "o", "topics": {"o": {"description": "x"},
                                  "a": {"description": "x", "labels": {"thucnews": "finance"}}}},
     "topics.a.labels.thucnews"),
    ({"fallback": "o", "topics": {"o": {"description": "x"},
                                  "a": {"description": "x", "labels": {"thucnews": ["finance"]}},
                                  "b": {"description": "x", "labels": {"thucnews": ["finance"]}}}},
     "topics.b.labels.thucnews"),
    ({"fallback": "o", "topics": {"o": {"description": "x", "labels": {"sources": ["books"]}}}},
     "topics.o.labels"),
    ({"fallback": "o", "topics": {"o": {"description": "x"}}, "extra": 1}, "extra"),
])
def test_taxonomy_errors_name_file_and_key(data, key):
    with pytest.raises(ConfigError) as e:
        parse_taxonomy(data, "t.yaml")
    msg = str(e.value)
    assert msg.startswith(f"t.yaml: {key}:") and "\n" not in msg


def test_taxonomy_file_errors(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("fallback: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="t.yaml: invalid YAML"):
        load_taxonomy(bad)
    with pytest.raises(ConfigError, match="no topic for the classifier's label 'thucnews:nope'"):
        load_taxonomy(TAXONOMY).topic_of("thucnews:nope")


# ---------------------------------------------------------------- input

def test_doc_head():
    assert doc_head("标题", "正文" * 200, 10) == "标题\n" + "正文" * 5
    assert doc_head(None, "  正文内容", 3) == "正文内"
    assert doc_head("", "正文", 0) == ""
    assert doc_head("第一回 开篇", "第一回 开篇\n话说天下", 100) == "第一回 开篇\n话说天下"  # title not repeated
    assert doc_head("题", "", 100) == "题"


def test_features():
    line = features("A股 2024年\n大涨 __label__x")
    assert "\n" not in line and "__label__" not in line
    assert line.split() == ["a", "股", "0", "0", "0", "0", "年", "大", "涨", "_", "_", "l", "a", "b", "e", "l",
                            "_", "_", "x"]
    assert features("２０１２\u3000年") == "0 0 0 0 年"
    assert features("   \n ") == ""


HEADS = ["", "   ", "中国男篮\n击败韩国队", "Hello world 你好", "ΣΑΣ Σ 中", "カタカナとひらがな漢字", "abc def 中",
         "中 abc", "İstanbul 中文", "１２３ 中文\u3000字", "x\x00y中", "English text only", "a b c 中文字", "\t\n"]


def test_features_many_is_features_per_head():
    import random

    from corpus.quality.features import is_chinese
    from corpus.topics.classify import features_many, head_is_chinese

    rnd = random.Random(0)
    heads = HEADS + ["".join(rnd.choice("ab 中文カな１2\tΣ.") for _ in range(rnd.randint(0, 30))) for _ in range(500)]
    assert features_many(heads) == [features(h) for h in heads]
    assert [head_is_chinese(h) for h in heads] == [is_chinese(h) for h in heads]
    assert features_many(heads, chinese_only=True) == [features(h) if is_chinese(h) else "" for h in heads]
    assert features_many(["a\ud800中"], chinese_only=True) == ["a \ud800 中"]  # not UTF-32: per head
    assert features_many([]) == []


def test_view_lines():
    from corpus.topics.classify import features_many, parse_view, view_lines
    from corpus.topics.train import parse_views

    chars = features_many(["中国男篮\n击败韩国队", "", "Ab 1"])
    assert view_lines(chars, "chars") == chars
    words = view_lines(chars, "words+chars")
    assert words[0].split()[-len(chars[0].split()):] == chars[0].split() and "击败" in words[0].split()
    assert words[1] == "" and view_lines(chars, "bigrams")[2].split() == ["b_ab", "b_b0"]
    assert all(t.startswith("w_") for t in view_lines(chars, "jieba")[0].split())
    assert view_lines(chars, "chars+words") == words  # the order of the tokens is fixed
    for bad in ("char", "chars+chars", ""):
        with pytest.raises(ValueError, match="feature view"):
            parse_view(bad)
    tp = {"views": ["chars", "words:softmax:lr=0.3:wordNgrams=1"], "dim": 8, "epoch": 5, "lr": 0.5,
          "wordNgrams": 2, "minCount": 1, "bucket": 10, "loss": "ova", "thread": 1, "seed": 1}
    (v1, p1), (v2, p2) = parse_views(tp)
    assert (v1, p1["loss"], p1["lr"]) == ("chars", "ova", 0.5)
    assert (v2, p2["loss"], p2["lr"], p2["wordNgrams"]) == ("words", "softmax", 0.3, 1)
    for bad in (["chars:seed=2"], ["chars:nope=1"], []):
        with pytest.raises(ValueError, match="views"):
            parse_views({**tp, "views": bad})


def test_pseudo_docs():
    from corpus.topics.train import pseudo_docs

    titles = [(f"体育新闻{i}", "sports") for i in range(20)] + [(f"财经新闻{i}", "finance") for i in range(20)]
    docs = pseudo_docs(titles, 5, 4, "s", 30)
    assert docs == pseudo_docs(titles, 5, 4, "s", 30) != pseudo_docs(titles, 5, 4, "t", 30)
    assert [c for c, _ in docs] == ["finance"] * 5 + ["sports"] * 5
    for c, head in docs:
        title, text = head.split("\n")
        assert len(text) <= 30 and 1 <= text.count("新闻") <= 3 and (c == "sports") == ("体育" in title)
    assert pseudo_docs([("只有一个", "x")], 5, 4, "s", 30) == []


def test_calibrate():
    from corpus.topics.train import calibrate

    gold = ["a", "a", "a", "a"]
    assert calibrate(gold, ["a", "a", "b", "a"], [0.9, 0.8, 0.7, 0.6], 1.0) == 0.8
    assert calibrate(gold, ["a", "a", "b", "a"], [0.9, 0.8, 0.7, 0.6], 0.75) == 0.6
    assert calibrate(gold, ["b", "a", "a", "a"], [0.9, 0.8, 0.7, 0.6], 0.9) == 1.0
    assert calibrate(gold, ["a", "b", "a", "a"], [0.9, 0.8, 0.8, 0.6], 1.0) == 0.9  # ties go together


# ---------------------------------------------------------------- the labeller

@pytest.fixture(scope="module")
def shipped():
    return TopicClassifier.load(MODEL, TAXONOMY, head_chars=200, min_score=0.5)


def test_api(shipped):
    tax = load_taxonomy(TAXONOMY)
    assert shipped.topics == tax.topics
    topics, scores = shipped.predict(["中国男篮击败韩国队夺得亚锦赛冠军", None, None],
                                     ["", "央行下调存款准备金率", ""])
    assert topics[0] == "sports" and topics[1] == "finance" and topics[2] == "other"
    assert scores[2] == 0.0 and all(0.0 <= s <= 1.0 for s in scores)
    assert all(t in shipped.topics for t in topics)
    assert cached_classifier(MODEL, TAXONOMY, 200, 0.5) is cached_classifier(MODEL, TAXONOMY, 200, 0.5)


def test_min_score_gives_fallback(shipped):
    titles = ["中国男篮击败韩国队夺得亚锦赛冠军", "央行下调存款准备金率", "高考志愿填报指南"]
    texts = [""] * 3
    strict = TopicClassifier(shipped.members, shipped.taxonomy, 200, min_score=1.01)
    topics, scores = strict.predict(titles, texts)
    assert topics == ["other"] * 3 and all(s > 0.5 for s in scores)
    loose = TopicClassifier(shipped.members, shipped.taxonomy, 200, min_score=0.0)
    topics2, scores2 = loose.predict(titles, texts)
    assert "other" not in topics2 and scores2 == scores
    mid = TopicClassifier(shipped.members, shipped.taxonomy, 200, min_score=sorted(scores)[1])
    topics3, _ = mid.predict(titles, texts)
    assert [t == "other" for t in topics3] == [s < sorted(scores)[1] for s in scores]


def test_non_chinese_gets_fallback(shipped):
    topics, scores = shipped.predict(["Chapter 1"], ["I am by birth a Genevese, and my family is one of "
                                                     "the most distinguished of that republic."])
    assert topics == ["other"] and scores == [0.0]


def test_shipped_model_matches_its_report(shipped):
    """The card cannot claim more than the model does on the bundled THUCNews test."""
    with open(project_path("models/topics/report.json"), encoding="utf-8") as f:
        report = json.load(f)
    assert report["counts"]["thucnews"]["evaluated_on"] == "test.txt"
    from corpus.quality.train import file_sha256

    assert file_sha256(project_path(MODEL)) == report["sha256"]
    views = report["input"]["views"]
    assert [m for _, m in shipped.members] == [v["features"] for v in views] and len(views) == 3
    for v in views:  # every model of the ensemble is the one trained
        assert file_sha256(project_path(f"models/topics/{v['model']}")) == v["sha256"]
    assert sum(v["bytes"] for v in views) == report["bytes"] < 5_000_000
    classes, _, test = read_thucnews("sample/topics/thucnews_titles")
    ev = evaluate(shipped, shipped.taxonomy, classes, test, [], [("thucnews:finance", "", "x")])
    got, claimed = ev["thucnews_test"], report["thucnews_test"]
    for level in ("topics", "classes10"):
        assert got[level]["accuracy"] >= claimed[level]["accuracy"]
        assert got[level]["macro_f1"] >= claimed[level]["macro_f1"]
    assert claimed["topics"]["accuracy"] > claimed["baselines"]["keyword"]["accuracy"]
    card = (project_path("models/topics/README.md")).read_text(encoding="utf-8")
    assert f"{claimed['topics']['accuracy']:.4f}" in card and report["sha256"] in card
    assert "corpus train-topics --out models/topics\n" in card
    # the shipped model was trained with the packaged defaults, and min_score is what they say
    cfg = load_config()
    assert report["params"] == dict(cfg["topics"]["train"])
    assert report["min_score"] == cfg["topics"]["min_score"]
    assert report["input"]["features_version"] == 3
    assert claimed["topics"]["accuracy"] >= 0.877  # three models; the character model alone had 0.8646


def test_shipped_model_on_documents(shipped):
    """Document-shaped input (a title and other titles of its class as text) gets a topic, and
    mostly the right one, at the configured min_score."""
    from corpus.topics.train import evaluate_pseudo_docs

    _, _, test = read_thucnews("sample/topics/thucnews_titles")
    d = evaluate_pseudo_docs(shipped, shipped.taxonomy, test, 30, 5, "t", 0.9)
    assert d["n"] == 300 and d["accuracy"] >= 0.9
    assert d["fallback_share"] <= 0.1 and d["precision_kept"] >= 0.9


def test_news_eval_skipped_without_data(shipped):
    from corpus.topics.train import evaluate_news

    assert evaluate_news(shipped, "no/such/file.dat", load_config()) is None


# ---------------------------------------------------------------- training

TINY = {
    "finance": ["股市大涨创新高", "基金净值上涨", "银行利率调整", "央行货币政策", "股票交易量放大", "债券收益率上升"],
    "sports": ["男篮夺得冠军", "足球联赛开幕", "网球公开赛决赛", "奥运会金牌榜", "乒乓球世锦赛", "马拉松比赛举行"],
    "education": ["高考分数线公布", "大学招生计划", "考研英语复习", "留学申请指南", "中小学开学", "教师招聘考试"],
}


@pytest.fixture
def tiny(tmp_path):
    d = tmp_path / "thuc"
    d.mkdir()
    classes = list(TINY)
    (d / "class.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    lines = [f"{t}{k}\t{i}" for i, c in enumerate(classes) for t in TINY[c] for k in range(3)]
    (d / "dev.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (d / "test.txt").write_text("\n".join(f"{t}\t{i}" for i, c in enumerate(classes) for t in TINY[c]) + "\n",
                                encoding="utf-8")
    tax = tmp_path / "topics.yaml"
    tax.write_text(json.dumps({"fallback": "other", "topics": {
        "money": {"description": "money", "labels": {"thucnews": ["finance"]}},
        "sports": {"description": "sports", "labels": {"thucnews": ["sports"]}},
        "education": {"description": "schools", "labels": {"thucnews": ["education"]}},
        "literature": {"description": "books", "labels": {"sources": ["books"]}},
        "other": {"description": "the rest"}}}), encoding="utf-8")
    return tmp_path, [f"topics.taxonomy={tax}", f"topics.train.thucnews={d}",
                      "topics.train.epoch=5", "topics.train.dim=8", "topics.train.bucket=1000",
                      "topics.train.quantize=false"]


def test_training_is_deterministic(tiny, tmp_path):
    _, sets = tiny
    cfg = load_config(None, [*sets, "topics.train.sources=[\"books:sample/books/chinese_poetry/lunyu.json\"]",
                             "topics.train.max_per_source=10"])
    r1 = train_topics(str(tmp_path / "a"), cfg, echo=False)
    r2 = train_topics(str(tmp_path / "b"), cfg, echo=False)
    a = (tmp_path / "a" / "model.bin").read_bytes()
    assert a == (tmp_path / "b" / "model.bin").read_bytes()
    assert r1["sha256"] == r2["sha256"]
    assert r1["counts"]["sources"]["books"]["used"] == 10
    assert set(r1["labels"].values()) == {"money", "sports", "education", "literature"}
    assert (tmp_path / "a" / "README.md").read_text(encoding="utf-8").startswith("# Topic classifier")


def test_ensemble_training_is_deterministic(tiny, tmp_path):
    _, sets = tiny
    cfg = load_config(None, [*sets, "topics.train.sources=[]",
                             'topics.train.views=["words+chars", "jieba:softmax:lr=0.3"]'])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model-3.bin").write_bytes(b"stale")  # an older ensemble's model: dropped
    r1 = train_topics(str(tmp_path / "a"), cfg, echo=False)
    r2 = train_topics(str(tmp_path / "b"), cfg, echo=False)
    assert sorted(os.listdir(tmp_path / "a")) == ["README.md", "model-2.bin", "model.bin", "report.json"]
    for name in ("model.bin", "model-2.bin"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert r1["input"]["views"] == r2["input"]["views"] and r1["input"]["views"][1]["lr"] == 0.3
    clf = TopicClassifier.load(str(tmp_path / "a" / "model.bin"), str(tmp_path / "topics.yaml"), 200, 0.0)
    assert [v for _, v in clf.members] == ["words+chars", "jieba"]
    topics, scores = clf.predict(["男篮夺得冠军", ""], ["", ""])
    assert topics[1] == "other" and scores[1] == 0.0 and 0.0 < scores[0] <= 1.0
    assert "model-2.bin" in (tmp_path / "a" / "README.md").read_text(encoding="utf-8")


def test_cli_tiny(tiny, tmp_path, capsys):
    from corpus.cli import main

    _, sets = tiny
    data = tmp_path / "user.jsonl"
    data.write_text("\n".join(json.dumps({"title": f"小说第{i}章", "text": "从前有座山，山里有座庙。" * 3,
                                          "topic": "literature"}, ensure_ascii=False) for i in range(8)) + "\n",
                    encoding="utf-8")
    out = tmp_path / "out"
    args = ["train-topics", "--out", str(out), "--data", str(data), "--set", "topics.train.sources=[]"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "keyword baseline" in printed and "majority baseline" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["train_lines"]["topic:literature"] + report["counts"]["heldout_lines"].get(
        "topic:literature", 0) == 8
    clf = TopicClassifier.load(str(out / "model.bin"), str(tmp_path / "topics.yaml"), 200, 0.0)
    assert clf.topics == ["money", "sports", "education", "literature", "other"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x", "text": "y", "topic": "cooking"}\n', encoding="utf-8")
    assert main([*args, "--data", str(bad)]) == 2
    assert "bad.jsonl:1: topic 'cooking'" in capsys.readouterr().err
    assert main(["train-topics", "--set", "topics.train.eval=nope"]) == 2
