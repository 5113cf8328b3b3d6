"""Small pieces: charset choice, HTTP bodies, config overrides, input specs, ledger funnel."""

import gzip
import zlib

import pyarrow as pa
import pytest

from corpus.config import ConfigError, load_config
from corpus.ingest import charset, http
from corpus.inputs import InputError, list_inputs, parse_spec
from corpus.ledger import funnel

ZH = "中文网页的正文内容，包括简体字和标点符号。" * 20


def test_gbk_labels_decode_as_gb18030_and_detection_finds_gbk():
    data = ZH.encode("gbk") + "㐀".encode("gb18030")  # a character outside GBK
    text, info = charset.decode(data, "gb2312")
    assert text == ZH + "㐀" and info == {"charset": "gb18030", "charset_source": "http",
                                          "replaced_bytes": 0}
    text, info = charset.decode(ZH.encode("gbk"))
    assert text == ZH and info["charset"] == "gb18030" and info["charset_source"] == "detected"


def test_meta_charset_and_wrong_declared_charset():
    html = b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">' + ZH.encode("gbk")
    text, info = charset.decode(html, None, html=True)
    assert ZH in text and info["charset_source"] == "meta"
    text, info = charset.decode(html, "utf-8", html=True)  # the server lies; the meta tag is right
    assert ZH in text and info["charset_source"] == "meta"


def test_replaced_bytes_are_counted():
    text, info = charset.decode(b"abc\xff\xfedef" + "好".encode(), "utf-8")
    assert text.count("\ufffd") == 2 and info["replaced_bytes"] == 2


def test_big5_and_bom():
    trad = "繁體中文的網頁內容。" * 20
    assert charset.decode(trad.encode("big5"), "big5")[0] == trad
    assert charset.decode(b"\xef\xbb\xbf" + ZH.encode())[1]["charset_source"] == "bom"


def test_http_chunked_and_compressed_bodies():
    payload = b"<html>" + b"x" * 1000 + b"</html>"
    gz = gzip.compress(payload)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (gz[:7], gz[7:])) + b"0\r\n\r\n"
    assert http.decode_body(chunked, {"transfer-encoding": "chunked", "content-encoding": "gzip"},
                            10**6) == (payload, None)
    assert http.decompress(zlib.compress(payload), "deflate", 10**6) == (payload, None)
    raw = zlib.compressobj(wbits=-15)
    assert http.decompress(raw.compress(payload) + raw.flush(), "deflate", 10**6) == (payload, None)
    cut, problem = http.decompress(gz[: len(gz) // 2], "gzip", 10**6)
    assert payload.startswith(cut) and problem == "content_encoding_truncated"
    assert http.decompress(b"garbage", "gzip", 10**6) == \
        (b"garbage", "content_encoding_ignored: gzip header, body not compressed")
    assert http.decompress(b"\x1f\x8bgarbage", "gzip", 10**6)[1].startswith("content_encoding_error")
    assert http.dechunk(b"not chunked at all") == (b"not chunked at all", "not_chunked")


def test_config_overrides_and_errors(tmp_path):
    cfg = load_config(overrides=["ingest.warc.reader=warcio", "ingest.warc.max_record_bytes=5",
                                 "spark.conf.spark.executor.memory=4g"])
    assert cfg["ingest"]["warc"]["reader"] == "warcio"
    assert cfg["ingest"]["warc"]["max_record_bytes"] == 5
    assert cfg["spark"]["conf"]["spark.executor.memory"] == "4g"
    with pytest.raises(ConfigError, match=r"--set ingest.warc.typo=1: unknown key ingest\.warc\.typo"):
        load_config(overrides=["ingest.warc.typo=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(overrides=["ingest.warc.reader"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("ingest: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_config(bad)
    user = tmp_path / "user.yaml"
    user.write_text("ingest:\n  warc:\n    reader: warcio\n")
    assert load_config(user)["ingest"]["warc"]["reader"] == "warcio"


def test_input_specs(tmp_path):
    assert parse_spec("books:/x/y.txt") == ("books", "/x/y.txt")
    assert parse_spec("s3a://b/CC-MAIN-1.warc.gz") == ("warc", "s3a://b/CC-MAIN-1.warc.gz")
    assert parse_spec("/d/x.warc.wet.gz") == ("wet", "/d/x.warc.wet.gz")
    assert parse_spec("jsonl:s3://b/x.jsonl") == ("jsonl", "s3://b/x.jsonl")
    with pytest.raises(InputError, match="prefix a kind"):
        parse_spec("/d/x.txt")
    (tmp_path / "a").mkdir()
    for name in ("a/1.warc.gz", "a/2.warc.gz", "a/_SUCCESS", "a/.hidden"):
        (tmp_path / name).write_bytes(b"x")
    files = list_inputs([f"warc:{tmp_path}/a", f"{tmp_path}/a/1.warc.gz"])
    assert [f.uri.rsplit("/", 1)[1] for f in files] == ["1.warc.gz", "2.warc.gz"]
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/X/a.warc.gz\ncrawl-data/X/b.warc.gz\n"))
    files = list_inputs([str(listing)], "s3://commoncrawl/")
    assert [f.uri for f in files] == ["s3://commoncrawl/crawl-data/X/a.warc.gz",
                                      "s3://commoncrawl/crawl-data/X/b.warc.gz"]
    with pytest.raises(InputError, match="matches no file"):
        list_inputs([f"books:{tmp_path}/nothing*"])


def test_funnel_balances():
    rows = [dict(stage="ingest", source="web", lang=None, reason=None, docs=5, chars=50, chars_kept=50),
            dict(stage="ingest", source="web", lang=None, reason="non_html", docs=3, chars=0, chars_kept=0),
            dict(stage="ingest", source="books", lang=None, reason=None, docs=2, chars=90, chars_kept=90)]
    (s,) = funnel(rows, ["ingest"])
    assert (s["in_docs"], s["kept_docs"], s["kept_chars"]) == (10, 7, 140)
    assert s["dropped"] == [{"reason": "non_html", "docs": 3, "chars": 0}]


def test_outcome_counts_chain_when_a_stage_rewrites_text():
    """chars: as read (chars_in where the stage gave it), chars_kept: the text emitted."""
    from collections import defaultdict

    from corpus.outcomes import count, split

    batch = pa.RecordBatch.from_pylist(
        [{"source": "web", "lang": "zh", "text": "ab", "reason": None, "chars_in": 5},
         {"source": "web", "lang": "zh", "text": "xyz", "reason": "short", "chars_in": 4},
         {"source": "web", "lang": "zh", "text": "kept", "reason": None, "chars_in": None}])
    counts = defaultdict(lambda: [0, 0, 0, 0])
    count(batch, counts)
    assert dict(counts) == {("web", "zh", None): [2, 9, 6, 2], ("web", "zh", "short"): [1, 4, 0, 0]}
    kept, dropped = split(batch)
    assert kept.schema.names == ["source", "lang", "text"]
    assert dropped.schema.names == ["source", "lang", "text", "reason"]
    rows = [dict(stage="clean", source="web", lang="zh", reason=r, docs=d, chars=c, chars_kept=k)
            for (_, _, r), (d, c, k, _) in counts.items()]
    (s,) = funnel(rows, ["clean"])
    assert (s["in_chars"], s["kept_chars"]) == (13, 6)


def test_local_mode_sizes_shuffles_by_cores(spark):
    from corpus.spark import _local_cores

    assert [_local_cores(m) for m in ("local[3]", "local[5,2]", "local")] == [3, 5, 1]
    assert spark.conf.get("spark.sql.shuffle.partitions") == "8"  # local[2]: 4 per core


def test_local_mode_jvm_gets_the_configured_java_options(spark):
    """`spark.local_java_options` reaches the running JVM, beside the quiet log4j config."""
    from corpus.config import load_config

    wanted = load_config()["spark"]["local_java_options"].split()
    assert wanted and all(w.startswith("-XX:Tier4") for w in wanted)
    args = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert set(wanted) <= set(args)
    assert any(a.startswith("-Dlog4j2.configurationFile=") for a in args)


def test_project_dir_prefers_a_checkout_then_the_installed_share(tmp_path):
    from corpus.config import PROJECT_DIR, project_dir

    share = tmp_path / "share" / "corpus"
    (share / "rules").mkdir(parents=True)
    (share / "rules" / "pipeline.yaml").write_text("run: {}\n")
    assert project_dir([PROJECT_DIR, share]) == PROJECT_DIR
    assert project_dir([tmp_path / "no-checkout", share]) == share
    with pytest.raises(RuntimeError, match="pipeline.yaml not found"):
        project_dir([tmp_path / "nothing"])


@pytest.mark.slow  # builds a wheel
def test_a_wheel_carries_rules_and_models(tmp_path):
    """A non-editable install (a wheel on cluster executors) brings rules/ and models/ along."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(repo)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("corpus-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = {n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n}
    for rel in ("rules/pipeline.yaml", "rules/zh.yaml", "rules/benchmarks.yaml",
                "rules/wordlists/zh_gambling.txt", "models/quality/model.ftz"):
        assert f"share/corpus/{rel}" in data, rel
    assert {p.name for p in (repo / "rules").glob("*.yaml")} == \
        {n.rsplit("/", 1)[1] for n in data if n.startswith("share/corpus/rules/") and n.count("/") == 3}
