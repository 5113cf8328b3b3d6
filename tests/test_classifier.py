"""The fastText quality classifier: tokenization, training, determinism, the shipped model,
and the `dropped:RUN_DIR` spec."""

import argparse
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.config import load_config
from corpus.ingest import read_input
from corpus.quality import cli, features, model, train, training_data
from corpus.quality.params import train_params
from corpus.schema import OUTCOME_SCHEMA, outcome
from tests.conftest import REPO, SAMPLE

SHIPPED = REPO / "models" / "quality"
ARTICLES = f"jsonl:{SAMPLE / 'quality' / 'articles.jsonl.gz'}"
CHROME = f"jsonl:{SAMPLE / 'quality' / 'page_chrome.jsonl.gz'}"
CC_EXCERPT = SAMPLE / "warc" / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"
GAMBLING_URL = "http://044545.com/topic/20200207/015849.html"
# Small and fast: 200-token lines, 10 epochs, no quantization.
SMALL = {"epoch": 10, "dim": 32, "max_tokens": 200, "quantize": False, "seed": 1}


# --- tokenization ------------------------------------------------------------------------

def test_tokenize_chinese_with_jieba():
    line = features.tokenize("我们今天去北京大学参观，电话：010-62751201。", "zh")
    assert line == "我们 今天 去 北京大学 参观 ， 电话 ： 000 - 00000000 。"
    # no lang: mostly Han text is Chinese all the same; English words inside are lowercased
    assert features.tokenize("他用Python写代码", None) == features.tokenize("他用Python写代码", "zh")
    assert "python" in features.tokenize("他用Python写代码", None).split()


def test_rjieba_cuts_as_jieba_does():
    """The shipped model was trained on jieba's words: rjieba must give the same ones."""
    import jieba

    text = (REPO / "sample" / "books" / "xiyouji.txt").read_text(encoding="utf-8")
    text += (REPO / "sample" / "forums" / "lccc_toy_valid.txt").read_text(encoding="utf-8")
    text = features._DIGIT.sub("0", text.lower())  # as tokens() hands it over
    pieces = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    jieba.setLogLevel(60)
    assert len(pieces) > 100
    assert [features._cut(p) for p in pieces] == [jieba.lcut(p, HMM=False) for p in pieces]


def test_tokenize_other_languages_lowercased_words():
    assert features.tokenize("The Quick, brown fox's tail!\nIn 2024.", "en") == \
        "the quick , brown fox's tail ! in 0000 ."
    assert not features.is_chinese("Hello world", None)
    assert features.is_chinese("Hello", "zh-Hant") and features.is_chinese("中文为主的句子 with a few words", "en")


def test_tokenize_one_line_truncated_and_no_label_injection():
    text = "第一段。\n\n第二段 __label__hq 还有\r\n更多" * 500
    line = features.tokenize(text, "zh", max_tokens=50)
    assert "\n" not in line and "\r" not in line and len(line.split()) == 50
    assert "__label__" not in features.tokenize("spam __label__hq spam", "en")
    assert "__label__" not in features.tokenize("垃圾__label__hq垃圾", "zh")
    assert features.tokenize("", "zh") == "" and features.tokenize("   \n ", None) == ""
    # a long book costs no more than its first max_tokens tokens
    long = "Call me Ishmael. " * 100000
    assert len(features.tokens(long, "en", 1000)) == 1000


# --- training ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_examples():
    """Articles of real news pages (hq) and the menus/link lists of the same pages (lq)."""
    cfg = load_config()
    out = []
    for spec, label in ((ARTICLES, "hq"), (CHROME, "lq")):
        out += [training_data.Example(row["id"], label, row["text"]) for row in training_data.read_spec_documents(spec, cfg)]
    return out


def test_training_on_a_small_real_set(real_examples):
    _, report = train.train_model(real_examples, SMALL)
    counts = report["counts"]
    # balanced (then split by document, so each side is balanced up to one document's lines)
    assert counts["train"]["hq"] + counts["heldout"]["hq"] == counts["train"]["lq"] + counts["heldout"]["lq"]
    held = counts["heldout"]["hq"] + counts["heldout"]["lq"]
    assert 0.15 <= held / (held + sum(counts["train"].values())) <= 0.25
    # measured: macro F1 0.880, ROC AUC 0.962 at seed 1 (F1 0.844-0.941, AUC 0.894-0.974 over
    # seeds 1-5); the bounds sit below the worst seed
    assert report["heldout"]["overall"]["macro_f1"] >= 0.8
    assert report["heldout"]["overall"]["roc_auc"] >= 0.85
    for label in ("hq", "lq"):
        assert set(report["heldout"][label]) == {"precision", "recall", "f1", "support"}


def test_training_is_deterministic(real_examples, tmp_path):
    params = {**SMALL, "dim": 16}
    a, ra = train.train_model(real_examples, params)
    # Several trainings in one process, after test_rjieba_cuts_as_jieba_does has freed jieba's
    # dictionary: fastText read such memory back and often diverged ("Encountered NaN") until
    # train._zeroed_allocations.
    for _ in range(2):
        b, rb = train.train_model(list(reversed(real_examples)), params)  # order: no matter
    texts = [e.text for e in real_examples[::7]]
    assert a.score_many(texts) == b.score_many(texts)
    assert ra["heldout"] == rb["heldout"]
    a.save(str(tmp_path / "a.bin"))
    b.save(str(tmp_path / "b.bin"))
    assert train.file_sha256(str(tmp_path / "a.bin")) == train.file_sha256(str(tmp_path / "b.bin"))


def test_split_keeps_a_documents_pieces_together():
    chapters = [row["text"] for row in read_input("books", str(SAMPLE / "books" / "xiyouji.txt"), {})][:40]
    examples = [training_data.Example(f"d{i}", "hq" if i % 2 else "lq", text) for i, text in enumerate(chapters)]
    p = {**train_params(), "max_tokens": 50, "max_chunks_per_doc": 5}
    lines, _ = train._example_lines(examples, p)
    training, held, _ = train._balance_and_split(lines, p)
    assert len(lines) == 200  # long documents gave several lines, at most max_chunks_per_doc
    assert not {g for _, g, _ in training} & {g for _, g, _ in held}


def test_duplicates_and_conflicts_are_removed():
    ex = [training_data.Example("a", "hq", "same text here"), training_data.Example("b", "hq", "same text here"),
          training_data.Example("c", "lq", "same text here"), training_data.Example("d", "lq", "other words")]
    lines, counts = train._example_lines(ex, train_params())
    assert counts["duplicate_lines"]["hq"] == 1 and counts["conflicting_lines"] == 1
    assert [x[2] for x in lines] == ["other words"]
    with pytest.raises(ValueError):
        train.train_model(ex, SMALL)  # no hq line left
    with pytest.raises(ValueError, match="unknown training parameter"):
        train.train_model(ex, {"epochs": 3})


# --- the shipped model -------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return model.QualityModel.load(str(SHIPPED))


def _cc_page(url):
    for row in read_input("warc", str(CC_EXCERPT), load_config()["ingest"]):
        if row["url"] == url:
            return row["text"]
    raise AssertionError(f"{url} not in {CC_EXCERPT}")


def test_shipped_model_matches_its_report(shipped):
    report = json.loads((SHIPPED / "report.json").read_text(encoding="utf-8"))
    path = SHIPPED / report["model"]
    assert path.stat().st_size < 5 * 1024 * 1024
    assert train.file_sha256(str(path)) == report["sha256"]
    assert shipped.max_tokens == report["tokenizer"]["max_tokens"]
    assert report["heldout"]["overall"]["macro_f1"] >= 0.95


def test_shipped_model_ranks_news_above_gambling_spam(shipped, shared):
    spam = _cc_page(GAMBLING_URL)
    news = next(row["text"] for row in read_input(
        "news", str(shared / "news" / "sogoucs_sohu_news_sample.xml.dat"), load_config()["ingest"])
        if row["reason"] is None and len(row["text"]) >= 200)
    p_news, p_spam = shipped.score_many([news, spam], [None, None])
    assert p_news > p_spam
    assert p_news >= 0.5 > p_spam


def test_shipped_model_scores(shipped):
    paragraph = ("据气象部门介绍，今年入夏以来，本市平均气温较常年同期偏高，降水偏少。"
                 "专家提醒市民注意防暑降温，合理安排户外活动时间，老人和儿童尤其要避免在午后高温时段外出。")
    menu = "首页 | 新闻中心 | 产品展示 | 联系我们 | 在线留言 | 网站地图\n版权所有 © 2015 某某有限公司 粤ICP备12345678号"
    scores = shipped.score_many([paragraph, menu, ""], ["zh", "zh", None])
    assert scores[0] > 0.5 > scores[1]
    assert scores[2] == 0.0
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert shipped.score(paragraph) == scores[0]
    with pytest.raises(ValueError):
        shipped.score_many(["a", "b"], ["en"])
    assert model.cached_model(str(SHIPPED)) is model.cached_model(str(SHIPPED))


# --- dropped:RUN_DIR and the job ----------------------------------------------------------

def _run_dir_with_dropped(root, rows):
    folder = root / "dropped" / "clean"
    folder.mkdir(parents=True)
    table = pa.Table.from_pylist(rows, schema=OUTCOME_SCHEMA)
    pq.write_table(table.slice(0, 2), folder / "part-00000.parquet")
    pq.write_table(table.slice(2), folder / "part-00001.parquet")
    (folder / "_SUCCESS").write_text("")
    return root


def _dropped_rows():
    spam = "六合彩 开奖结果 特码 资料大全 加QQ 123456789 注册送彩金"
    return [
        outcome("web", "a.warc@0", text=spam + " 一", reason="spam_words"),
        outcome("web", "a.warc@1", text="首页 | 关于我们 | 联系我们", reason="short_lines"),
        outcome("web", "a.warc@2", text="", reason="spam_words"),               # no text kept
        outcome("web", "a.warc@3", text=spam + " 二", lang="zh", reason="spam_words"),
        outcome("web", "a.warc@4", text="English page dropped for language", reason="lang"),
    ]


def test_dropped_spec_reads_the_run_dirs_dropped_table(tmp_path):
    run = _run_dir_with_dropped(tmp_path / "run", _dropped_rows())
    counts: dict = {}
    rows = list(training_data.read_spec_documents(f"dropped:{run}", {}, file_counts=counts))
    assert [r["text"][-1] for r in rows] == ["一", "们", "二", "e"]
    assert rows[2]["lang"] == "zh" and all(len(r["id"]) == 32 for r in rows)
    assert sum(c["skipped"] for c in counts.values()) == 1 and len(counts) == 2
    only = list(training_data.read_spec_documents(f"dropped:{run}#spam_words,short_lines", {}))
    assert [r["reason"] for r in only] == ["spam_words", "short_lines", "spam_words"]
    from corpus.inputs import InputError

    with pytest.raises(InputError):
        list(training_data.read_spec_documents(f"dropped:{tmp_path / 'nothing'}", {}))


def test_train_quality_command_writes_model_and_report(tmp_path, capsys):
    run = _run_dir_with_dropped(tmp_path / "run", _dropped_rows())
    parser = argparse.ArgumentParser()
    cli.add_train_quality_arguments(parser)
    out = tmp_path / "model"
    args = parser.parse_args([
        "--positive", f"books:{SAMPLE / 'books' / 'chinese_poetry' / 'lunyu.json'}",
        "--negative", f"dropped:{run}#spam_words,short_lines", CHROME,
        "--output", str(out), "--set", "quality.train.epoch=5", "--set", "quality.train.dim=16",
        "--set", "quality.train.quantize=false", "--set", "quality.train.max_tokens=100",
        "--set", "quality.train.balance=false",
    ])
    assert cli.train_quality_command(args) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert json.loads(capsys.readouterr().out) == report
    assert report["model"] == "model.bin" and (out / "model.bin").exists()
    assert report["sha256"] == train.file_sha256(str(out / "model.bin"))
    assert report["specs"]["negative"][0] == f"dropped:{run}#spam_words,short_lines"
    assert report["params"]["epoch"] == 5 and report["tokenizer"]["max_tokens"] == 100
    assert report["counts"]["docs"]["lq"] == 3 + 131
    trained = model.QualityModel.load(str(out))
    assert trained.max_tokens == 100 and len(trained.score_many(["子曰：学而时习之"])) == 1

    bad = parser.parse_args(["--positive", "books:x", "--negative", "books:y", "--output", str(out),
                             "--set", "quality.train.epochs=5"])
    assert cli.train_quality_command(bad) == 2
    assert "quality.train.epochs" in capsys.readouterr().err
    missing = parser.parse_args(["--positive", f"books:{tmp_path}/none*.txt", "--negative", CHROME,
                                 "--output", str(out)])
    assert cli.train_quality_command(missing) == 2
