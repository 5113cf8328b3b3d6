"""Decontamination: tokens, registry loaders, the index, recall of planted items, whole-item
matching, the cut action, accounting and determinism, and the stage on Spark."""

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.config import ConfigError, load_config
from corpus.decontam import index as ix
from corpus.decontam import match
from corpus.decontam.fold import tables, variant_representatives
from corpus.decontam.match import cut, find_matches
from corpus.decontam.ngrams import Windows, tokenize, tokenize_many
from corpus.decontam.registry import load_registry
from corpus.decontam.stage import decontaminate_batches, prepare_index, settings
from corpus.schema import DOC_SCHEMA

EXPECTED_ITEMS = {"cmmlu": 11582 + 335, "c3": 1627 + 1045 + 1628 + 1046, "ocnli": 2520, "cluewsc": 976,
                  "bustm": 1772, "gsm8k": 1319}  # ../shared/data/PROVENANCE.md


def keys(text, n=17):
    tokens = tokenize(text)
    return Windows(tokens.hashes).keys(min(n, len(tokens)))


def docs_batch(texts, ids=None):
    rows = [{"id": ids[i] if ids else f"d{i:03d}", "source": "books", "url": None, "locator": f"x#{i}",
             "fetch_time": None, "lang": "zh", "lang_score": 1.0, "title": None, "text": t, "meta": [("k", "v")]}
            for i, t in enumerate(texts)]
    return pa.RecordBatch.from_pylist(rows, schema=DOC_SCHEMA)


def run_local(texts, index, item_keys, s, ids=None):
    """Outcome rows by id, through the same batch functions the Spark stage runs."""
    out = {}
    for batch in decontaminate_batches([docs_batch(texts, ids)], index, item_keys, s):
        out.update({r["id"]: r for r in batch.to_pylist()})
    return out


def write_registry(tmp_path, entries, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "registry.yaml"
    path.write_text(json.dumps({"root": ".", "benchmarks": entries}, ensure_ascii=False), encoding="utf-8")
    return path


def cfg_for(registry=None, **overrides):
    sets = [f"decontaminate.{k}={v}" for k, v in overrides.items()]
    if registry:
        sets.append(f"decontaminate.registry={registry}")
    return settings(load_config(overrides=sets)["decontaminate"])


# --- tokens ------------------------------------------------------------------------------------

def test_tokens_fold_width_case_space_punctuation_and_script():
    same = ["第1章：ＡＢＣ  Def，头发很长。", "第 1 章 abc def 头 发 很 长", "第１章abc-DEF\n頭髮很長!!"]
    got = [tokenize(t).hashes.tolist() for t in same]
    assert got[0] == got[1] == got[2] and len(got[0]) == 9  # 第 1 章 abc def 头 发 很 长
    assert tokenize("abc").hashes[0] != tokenize("ab c").hashes[0]
    text = "Ｈｅｌｌｏ，世界 ﬁne！"
    t = tokenize(text)
    assert [text[a:b] for a, b in zip(t.starts(), t.ends())] == ["Ｈｅｌｌｏ", "世", "界", "ﬁne"]
    assert t.hashes[3] == tokenize("fine").hashes[0]  # the ligature expands, offsets still map back
    # characters that are both traditional and simplified fold together, whichever way converted
    assert keys("我們瞭解這個座位像於此").tolist() == keys("我们了解这个坐位象于此").tolist()
    assert variant_representatives([("了", ["了", "瞭"]), ("瞭", ["了"]), ("于", ["於"]), ("乾", ["干", "乾"]),
                                    ("幹", ["干"])]) == {"瞭": "了", "於": "于", "干": "乾", "幹": "乾"}  # smallest code point
    assert tables().variant_classes > 1000


def test_windows_and_tokenize_many_keep_texts_apart():
    tokens, owner, begins = tokenize_many(["甲乙丙", "", "x ⑴y"])
    assert owner.tolist() == [0, 0, 0, 2, 2, 2] and begins.tolist() == [0, 4, 5]
    assert (tokens.starts() - begins[owner]).tolist() == [0, 1, 2, 0, 2, 3]  # ⑴ is "(1)": a token "1"
    assert (tokens.ends() - begins[owner]).tolist() == [1, 2, 3, 1, 3, 4]
    w = Windows(tokenize("一二三四五一二三").hashes)
    k = w.keys(3)
    assert k[0] == k[5] and len(set(k.tolist())) == 5
    assert w.keys_at(np.array([5]), 3)[0] == k[0] and w.keys(2)[0] != k[0]
    assert w.keys(9).size == 0


# --- registry ------------------------------------------------------------------------------------

def test_default_registry_has_every_shared_benchmark(shared):
    reg = load_registry(cfg_for().registry)
    assert reg.missing == {}
    assert {b.name for b in reg.benchmarks} == set(EXPECTED_ITEMS)
    for name, count in EXPECTED_ITEMS.items():
        items = list(reg.items(name))
        assert len(items) == count and len({i.item_id for i in items}) == count, name
        assert all(i.text.strip() for i in items), name
    c3 = next(reg.items("c3"))
    assert c3.item_id == "c3/c3-d-test.json:47-37" and "你这么生气" in c3.text and "丈夫" in c3.text
    cmmlu = next(reg.items("cmmlu"))
    assert cmmlu.item_id.startswith("cmmlu/test/") and cmmlu.text.count("\n") == 4


def test_generic_loaders_and_errors(tmp_path):
    files = {"a.csv": "q,opt,ans\n今天天气很好,晴,A\n", "b.tsv": "q\topt\n明天\t雨\n",
             "c.json": json.dumps({"data": [{"k": 7, "p": ["第一段", "第二段"], "qs": [{"q": "问一"}, {"q": "问二"}]}]}),
             "d.jsonl": '{"id": "x1", "t": "一句话"}\n\n{"id": "x2", "t": "又一句", "extra": "不要"}\n'}
    path = write_registry(tmp_path, [
        {"name": "a", "lang": "zh", "path": "a.csv", "format": "csv", "fields": ["q", "opt"]},
        {"name": "b", "lang": "zh", "path": ["b.tsv", "nowhere/*.tsv"], "format": "tsv", "fields": "q"},
        {"name": "c", "lang": "zh", "path": "c.json", "format": "json", "records": "data",
         "fields": ["p", "qs.*.q"], "id": "k"},
        {"name": "d", "lang": "zh", "path": "*.jsonl", "format": "jsonl", "fields": ["t"], "id": "id"}], files)
    reg = load_registry(path)
    got = {name: [(i.item_id, i.text) for i in reg.items(name)] for name in "abcd"}
    assert got == {"a": [("a.csv:0", "今天天气很好\n晴")], "b": [("b.tsv:0", "明天")],
                   "c": [("c.json:7", "第一段\n第二段\n问一\n问二")], "d": [("d.jsonl:x1", "一句话"), ("d.jsonl:x2", "又一句")]}
    assert reg.missing == {"b": ["nowhere/*.tsv"]}
    before = reg.version()
    assert before == load_registry(path).version() != load_registry(path).version("other settings")
    (tmp_path / "a.csv").write_text("q,opt,ans\n今天天气很坏,晴,A\n", encoding="utf-8")
    assert load_registry(path).version() != before  # the files' bytes are part of the version

    def bad(entry, match):
        p = write_registry(tmp_path, [entry], {})
        with pytest.raises(ConfigError, match=match):
            reg = load_registry(p)
            for b in reg.benchmarks:
                list(reg.items(b.name))

    base = {"name": "a", "lang": "zh", "path": "a.csv", "format": "csv", "fields": ["q"]}
    bad({**base, "feilds": ["q"]}, "unknown key")
    bad({**base, "format": "xml"}, "format 'xml'")
    bad({**base, "fields": ["question"]}, r"field\(s\) \['question'\] found in no record")
    bad({k: v for k, v in base.items() if k != "lang"}, "'lang' is required")
    bad({**base, "records": "data"}, "format json only")
    p = write_registry(tmp_path, [base, base], {})
    with pytest.raises(ConfigError, match="more than once"):
        load_registry(p)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="unknown key decontaminate.actoin"):
        load_config(overrides=["decontaminate.actoin=cut"])
    with pytest.raises(ConfigError, match="decontaminate.action"):
        cfg_for(action="zap")
    with pytest.raises(ConfigError, match="decontaminate.n"):
        cfg_for(n=0)
    with pytest.raises(ConfigError, match="min_tokens"):
        cfg_for(n=5, min_tokens=6)
    s = cfg_for(action="cut", **{"cut.margin": 5})
    assert (s.action, s.margin, s.n, s.max_pieces) == ("cut", 5, 17, 10)


def test_missing_benchmarks_warn_or_fail(tmp_path):
    path = write_registry(tmp_path, [
        {"name": "here", "lang": "zh", "path": "h.jsonl", "format": "jsonl", "fields": ["t"]},
        {"name": "gone", "lang": "zh", "path": "absent/*.jsonl", "format": "jsonl", "fields": ["t"]}],
        {"h.jsonl": json.dumps({"t": "这是一道非常长的评测题目，用来检验模型是否记住了它的全部内容。"}) + "\n"})
    logged = []
    index, item_keys, info = prepare_index(cfg_for(path), log=logged.append)
    assert info["missing"] == {"gone": ["absent/*.jsonl"]} and "WARNING benchmark 'gone'" in logged[0]
    assert info["ngrams"] > 0 and info["path"] is None and info["built"]
    with pytest.raises(ConfigError, match="gone.*on_missing=error"):
        prepare_index(cfg_for(path, on_missing="error"))


# --- the index -------------------------------------------------------------------------------------

def test_keyset_and_index_round_trip(tmp_path):
    import fsspec

    rng = np.random.default_rng(0)
    keys_ = np.unique(rng.integers(0, 2**63, 5000).astype(np.uint64) * np.uint64(2))
    ks = ix.KeySet(keys_)
    queries = np.concatenate([keys_[::7], rng.integers(0, 2**63, 20000).astype(np.uint64) * np.uint64(2) + np.uint64(1)])
    assert ks.contains(queries).tolist() == np.isin(queries, keys_).tolist()
    assert ks.nbytes <= 9.6 * len(ks) and not ix.KeySet(np.zeros(0, np.uint64)).contains(queries).any()

    path = write_registry(tmp_path, [{"name": "t", "lang": "zh", "path": "t.jsonl", "format": "jsonl",
                                      "fields": ["t"], "id": "id"}],
                          {"t.jsonl": "".join(json.dumps({"id": i, "t": t}, ensure_ascii=False) + "\n" for i, t in
                                              enumerate(["甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥", "短句子也要整体匹配",
                                                         "太短", "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未"]))})
    s = cfg_for(path)
    fs = fsspec.filesystem("file")
    index, item_keys, info = prepare_index(s, (fs, str(tmp_path / "idx")))
    assert info["built"] and (tmp_path / "idx" / info["version"] / "ngrams.npy").exists()
    assert len(index.ngrams) == 6 and sorted(index.whole) == [9] and item_keys.tokens.tolist() == [22, 9, 2, 18]
    again, item_keys2, info2 = prepare_index(s, (fs, str(tmp_path / "idx")))
    assert not info2["built"] and info2["version"] == info["version"]
    assert again.ngrams.keys.tolist() == index.ngrams.keys.tolist()
    assert again.whole[9].keys.tolist() == index.whole[9].keys.tolist()
    shared_key = keys("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未")[:1]
    assert item_keys2.owners(shared_key) == {int(shared_key[0]): [0, 3]}  # both items have it
    assert prepare_index(cfg_for(path, n=13))[2]["version"] != info["version"]


# --- recall: items of every benchmark planted into real documents ------------------------------------

S2T = None


def perturb(text, rng):
    """Traditional characters, full-width letters and digits, other punctuation, extra spaces and
    line breaks, upper case: what a copy of an item on the web looks like."""
    global S2T
    import opencc

    S2T = S2T or opencc.OpenCC("s2t")
    text = S2T.convert(text)
    swap = {"，": ",", "。": ". ", "？": "?", "！": "!", "：": ":", "；": ";", "“": '"', "”": '"', "、": ",",
            ",": "，", ".": "。", "?": "？", "(": "（", ")": "）", "\n": rng.choice(["\n\n", " ", "　", "\t"])}
    out = []
    for i, ch in enumerate(text):
        latin = ch.isascii() and ch.isalnum()
        between_words = latin and text[i + 1:i + 2].isascii() and text[i + 1:i + 2].isalnum()
        if latin and rng.random() < 0.5:
            ch = chr(ord(ch.upper() if rng.random() < 0.3 else ch) + 0xFEE0)  # full width
        out.append(swap.get(ch, ch))
        if not between_words and rng.random() < 0.08:
            out.append(rng.choice([" ", "  ", "\n", "\r\n", "\u3000"]))
    return "".join(out)


@pytest.fixture(scope="module")
def default_index(shared):
    s = settings(load_config()["decontaminate"])
    index, item_keys, info = prepare_index(s)
    return s, index, item_keys, info


@pytest.fixture(scope="module")
def hosts(shared):
    """Real documents (books, news, forums) with no n-gram of any benchmark."""
    from corpus.ingest import read_input

    cfg = load_config()["ingest"]
    texts = []
    for kind, rel in (("books", "books/zh_classical_novels/hongloumeng.txt"), ("news", "news/lcsts_PART_III.txt"),
                      ("forums", "forums/sophonplus_reviews/ChnSentiCorp_htl_all.csv"),
                      ("books", "books/en_gutenberg/pg1342.txt")):
        rows = [r["text"] for r in read_input(kind, str(shared / rel), cfg) if not r["reason"]]
        texts += [t[:3000] for t in rows if len(t) > 150][:60]
    return texts


def test_recall_of_planted_items_of_every_benchmark(default_index, hosts):
    s, index, item_keys, info = default_index
    reg = load_registry(s.registry)
    rng = random.Random(5)
    planted, expected = [], []
    assert not len(find_matches(hosts, index)), "a host document is contaminated already"
    for bench in reg.benchmarks:
        items = list(reg.items(bench.name))
        tokens = {i.item_id: len(tokenize(i.text)) for i in items}
        whole = sorted((i for i in items if s.min_tokens <= tokens[i.item_id] < s.n), key=lambda i: tokens[i.item_id])
        chosen = rng.sample(items, 25) + whole[:5]  # random ones and the shortest matched whole
        for item in chosen:
            host = rng.choice(hosts)
            cut_at = rng.randrange(len(host))
            changed = perturb(item.text, rng)
            assert changed != item.text and item.text not in changed
            planted.append(f"{host[:cut_at]}\n{changed}\n{host[cut_at:]}")
            expected.append((bench.name, item.item_id))
    m = find_matches(planted, index)
    owners = item_keys.owners(np.unique(m.key))
    found = {}
    for doc, key in zip(m.doc.tolist(), m.key.tolist()):
        found.setdefault(doc, set()).update((item_keys.benchmark[i], item_keys.item_id[i]) for i in owners[key])
    missed = [expected[d] for d in range(len(planted)) if expected[d] not in found.get(d, set())]
    assert not missed, f"{len(missed)} planted items not caught: {missed[:5]}"
    assert {b for b, _ in expected} == set(EXPECTED_ITEMS)
    out = run_local(planted, index, item_keys, s)
    assert all(r["reason"] == "contaminated" for r in out.values())
    for i, (bench, item) in enumerate(expected):
        detail = json.loads(out[f"d{i:03d}"]["detail"])
        assert bench in detail["benchmarks"] and detail["matched_ngrams"] >= 1
        if detail["items_matched"] <= 10:
            assert [bench, item] in detail["items"]


def test_items_shorter_than_n_are_matched_whole(tmp_path):
    path = write_registry(tmp_path, [{"name": "short", "lang": "zh", "path": "s.jsonl", "format": "jsonl",
                                      "fields": ["a", "b"], "id": "id"}],
                          {"s.jsonl": json.dumps({"id": "q1", "a": "今天天气怎么样", "b": "还不错吧"}, ensure_ascii=False)
                           + "\n" + json.dumps({"id": "q2", "a": "你好", "b": "好"}, ensure_ascii=False) + "\n"})
    s = cfg_for(path)
    index, item_keys, info = prepare_index(s)
    assert item_keys.tokens.tolist() == [11, 3] and sorted(index.whole) == [11] and len(index.ngrams) == 0
    novel = "话说宝玉在林黛玉房中说耗子精，宝钗撞来，讽刺宝玉元宵不知绿蜡之典。"
    texts = [novel + "今天天氣，怎麼樣？還不錯吧！" + novel,  # the whole item, traditional, punctuated
             novel + "今天天气怎么样" + novel,              # only part of it
             novel + "你好好" + novel,                     # the item of 3 tokens: too short to match
             "今天天气怎么样还不错"]                        # whole item cut short at the end
    out = run_local(texts, index, item_keys, s)
    assert [out[f"d{i:03d}"]["reason"] for i in range(4)] == ["contaminated", None, None, None]
    detail = json.loads(out["d000"]["detail"])
    assert detail["item"] == "s.jsonl:q1" and detail["ngram"] == "今天天氣，怎麼樣？還不錯吧"


# --- actions, accounting, determinism ---------------------------------------------------------------

def test_cut_spans_with_margin():
    text = "a" * 50 + "XXXX" + "b" * 50 + "YY" + "c" * 8
    pieces, n_pieces, regions = cut(text, [(50, 54), (104, 106)], margin=10, min_piece_chars=20)
    assert pieces == ["a" * 40, "b" * 30] and n_pieces == 2 and regions == 2  # "c"*8 minus margin: gone
    assert cut(text, [(50, 54), (52, 60)], margin=0, min_piece_chars=1)[1:] == (2, 1)  # overlapping: one region


def test_actions_accounting_and_determinism(tmp_path, monkeypatch):
    item = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
    path = write_registry(tmp_path, [{"name": "t", "lang": "zh", "path": "t.jsonl", "format": "jsonl",
                                      "fields": ["t"]}], {"t.jsonl": json.dumps({"t": item}, ensure_ascii=False) + "\n"})
    filler = "这是一段很普通的正文内容，没有任何评测题目。" * 20  # 440 characters
    texts = [filler + item + filler,                 # one match in the middle
             filler + (item + "。" + filler[:100]) * 12,  # many matches: too many pieces
             item + "尾巴",                           # nothing long enough left
             filler]                                  # clean
    drop = cfg_for(path)
    index, item_keys, _ = prepare_index(drop)
    out = run_local(texts, index, item_keys, drop)
    assert len(out) == len(texts)  # in = kept + dropped
    assert [out[f"d{i:03d}"]["reason"] for i in range(4)] == ["contaminated"] * 3 + [None]
    assert out["d003"]["text"] == filler and out["d003"]["detail"] is None

    cut_cfg = cfg_for(path, action="cut", **{"cut.margin": 50, "cut.min_piece_chars": 100})
    out = run_local(texts, index, item_keys, cut_cfg)
    assert len(out) == len(texts)
    kept = out["d000"]
    assert kept["reason"] is None and item not in kept["text"] and kept["text"].count("\n") == 1
    assert len(kept["text"]) == len(texts[0]) - len(item) - 100 + 1  # the margins, the item; plus "\n"
    meta = dict(kept["meta"])
    assert meta["k"] == "v" and meta["decontam_cuts"] == "1" and json.loads(meta["decontam_detail"])["item"] == "t.jsonl:0"
    assert int(meta["decontam_removed_chars"]) == len(texts[0]) - len(kept["text"])
    many = json.loads(out["d001"]["detail"])
    assert out["d001"]["reason"] == "contaminated" and "max_pieces" in many["why"] and many["pieces"] > 10
    assert "no piece" in json.loads(out["d002"]["detail"])["why"]

    # the same batches give the same rows; so do smaller numpy chunks
    again = run_local(texts, index, item_keys, cut_cfg)
    assert again == out
    monkeypatch.setattr(match, "CHUNK_CHARS", 300)
    assert run_local(texts, index, item_keys, cut_cfg) == out


# --- the stage on Spark ----------------------------------------------------------------------------

def test_stage_on_spark(spark, shared, tmp_path, capsys):
    from corpus import pipeline
    from corpus.decontam.registry import load_registry as lr

    reg = lr(settings(load_config()["decontaminate"]).registry)
    gsm = next(reg.items("gsm8k"))
    c3 = next(reg.items("c3"))
    novel = (shared / "books" / "zh_classical_novels" / "xiyouji.txt").read_text(encoding="utf-8")
    chunks = [novel[20000 + i * 1500:20000 + (i + 1) * 1500].replace("\r\n", "\n") for i in range(6)]
    rows = [{"id": f"c{i}", "text": c} for i, c in enumerate(chunks[:4])]
    rows.append({"id": "p-c3", "text": chunks[4] + "\n" + perturb(c3.text, random.Random(1)) + "\n" + chunks[5]})
    english = (shared / "books" / "en_gutenberg" / "pg84.txt").read_text(encoding="utf-8")
    rows.append({"id": "p-gsm", "text": english[30000:32000] + "\n\n" + gsm.text.upper() + "\n\n" + english[40000:40600]})
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run = tmp_path / "run"
    cfg = load_config(overrides=["decontaminate.report_examples=1", f"decontaminate.index_dir={tmp_path}/idx"])
    funnel = pipeline.run_pipeline(str(run), [f"jsonl:{src}"], cfg)
    m = json.loads((run / "manifest.json").read_text())["stages"]
    d = m["decontaminate"]
    assert d["docs_in"] == m["dedup"]["kept"] == d["kept"] + d["dropped"] and d["dropped"] == 2
    dropped = pq.read_table(run / "dropped" / "decontaminate").to_pylist()
    assert all(r["reason"] == "contaminated" for r in dropped)
    details = sorted(json.loads(r["detail"])["benchmark"] for r in dropped)
    assert details == ["c3", "gsm8k"]
    kept = pq.read_table(run / "decontaminate")
    assert kept.num_rows == 4 and "reason" not in kept.schema.names and "decontam_keys" not in kept.schema.names
    report = json.loads((run / "reports" / "decontaminate.json").read_text())
    by_name = {b["name"]: b for b in report["benchmarks"]}
    assert report["docs_contaminated"] == report["docs_dropped"] == 2 and "built" not in report["index"]
    assert f"index {report['index']['version']} built and saved to {tmp_path}/idx/" in capsys.readouterr().err
    assert by_name["c3"]["docs_hit"] == 1 and by_name["c3"]["items_hit"] >= 1 and by_name["cmmlu"]["docs_hit"] == 0
    assert by_name["gsm8k"]["examples"][0]["item"] == gsm.item_id and by_name["bustm"]["items_too_short"] == 26
    assert (tmp_path / "idx" / report["index"]["version"] / "ngrams.npy").exists()
    assert [s for s in funnel if s["stage"] == "decontaminate"]
    first = (run / "decontaminate" / "part-00000.parquet").read_bytes()

    # rerun: the saved index is reused and the tables are byte-identical
    pipeline.run_pipeline(str(run), [f"jsonl:{src}"], cfg, stages=["decontaminate"], force=True)
    assert f"index {report['index']['version']} loaded from {tmp_path}/idx/" in capsys.readouterr().err
    assert (run / "decontaminate" / "part-00000.parquet").read_bytes() == first

    # cut: the C3 passage is cut out of a long document, which is kept
    cut_cfg = load_config(overrides=["decontaminate.action=cut", "decontaminate.cut.min_piece_chars=100"])
    pipeline.run_pipeline(str(run), [f"jsonl:{src}"], cut_cfg, stages=["decontaminate"], force=True)
    kept = {r["id"]: r for r in pq.read_table(run / "decontaminate").to_pylist()}
    assert len(kept) == 6
    squeeze = "".join  # the clean stage normalized whitespace
    cut_doc = next(r for r in kept.values() if squeeze(chunks[4][:50].split()) in squeeze(r["text"].split()))
    assert dict(cut_doc["meta"])["decontam_cuts"] == "1"
    assert squeeze(chunks[5][-50:].split()) in squeeze(cut_doc["text"].split())
    assert len(cut_doc["text"]) < len(chunks[4]) + len(chunks[5]) - 400  # the passage and two margins


def test_report_and_notebook_helpers(tmp_path):
    pd = pytest.importorskip("pandas")
    from corpus.explore import decontam as di
    from corpus.decontam.stage import summarize

    path = write_registry(tmp_path, [
        {"name": "a", "lang": "zh", "path": "a.jsonl", "format": "jsonl", "fields": ["t"], "id": "id"},
        {"name": "b", "lang": "en", "path": "b.jsonl", "format": "jsonl", "fields": ["t"], "id": "id"}],
        {"a.jsonl": "".join(json.dumps({"id": i, "t": t}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(["学而时习之不亦说乎有朋自远方来不亦乐乎", "好的", "温故而知新可以为师矣"])),
         "b.jsonl": json.dumps({"id": "x", "t": "<b>" + " ".join(f"w{i}" for i in range(20))}) + "\n"})
    s = cfg_for(path)
    index, item_keys, info = prepare_index(s)
    owners = item_keys.owners(np.unique(find_matches(["子曰：学而时习之，不亦说乎？有朋自远方来，不亦乐乎？"], index).key))
    example = {"benchmark": "a", "item": "a.jsonl:0", "ngram": "学而时习之", "before": "<子曰>", "after": "。",
               "doc_id": "f" * 32, "source": "books", "action": "dropped"}
    items_hit = {i for lst in owners.values() for i in lst}
    report = summarize(info, items_hit, item_keys, 10, s, {"a": 1}, {"dropped": 1}, [example])
    bench = di.benchmark_frame(report)
    assert bench.loc["a"].to_dict() == {"lang": "zh", "files": 1, "items": 3, "matched_whole": 1, "too_short": 1,
                                        "items_hit": 1, "items_hit_share": 1 / 3, "docs_hit": 1}
    assert bench.loc["b", "items_hit"] == 0 and report["docs_contaminated"] == 1 and report["docs_cut"] == 0
    assert report["benchmarks"][0]["items_too_short_ids"] == ["a.jsonl:1"]
    assert di.index_frame(report).loc["distinct n-grams", "value"] == "8"  # 3 of a:0 (19 tokens), 5 of b:x (21)
    html = di.examples_html(report)
    assert f"class='{di.EXAMPLES_CLASS}'" in html and "&lt;子曰&gt;<mark>学而时习之</mark>。" in html
    assert di.examples_html({"benchmarks": []}) == "<p>no contaminated documents</p>"
    funnel = [{"stage": "decontaminate", "in_docs": 10, "in_chars": 100, "kept_docs": 9, "kept_chars": 90,
               "dropped": [{"reason": "contaminated", "docs": 1, "chars": 10}]}]
    f = di.stage_funnel(funnel).set_index("outcome")
    assert f["docs"].to_dict() == {"in": 10, "kept": 9, "contaminated": 1} and f.loc["kept", "chars_share"] == 0.9
    assert isinstance(f, pd.DataFrame)
