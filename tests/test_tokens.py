"""Tokenizer and token export: exact round trips, reproducible models, packing that loses no
token, shards the loader can read."""

import io
import json
from collections import Counter
from itertools import islice

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("sentencepiece")

from corpus import pipeline  # noqa: E402
from corpus.cli import main  # noqa: E402
from corpus.config import load_config  # noqa: E402
from corpus.ingest import read_input  # noqa: E402
from corpus.tokens.pack import Packer, pack_shards, tokenize_batches  # noqa: E402
from corpus.tokens.shards import MANIFEST as MANIFEST_NAME, TokenShards, read_manifest  # noqa: E402
from corpus.tokens.tokenizer import Tokenizer, train_model  # noqa: E402
from tests.conftest import SAMPLE  # noqa: E402

PARAMS = {"vocab_size": 8000, "model_type": "bpe", "character_coverage": 0.9995,
          "split_digits": True, "max_sentencepiece_length": 16, "num_threads": 2}
SETS = ["tokenizer.vocab_size=8000", "tokenizer.num_threads=2",
        "tokens.seq_len=128", "tokens.shard_tokens=50000", "tokens.validation_fraction=0.1"]

ADVERSARIAL = [
    "", " ", "   ", "\n", "\t", "\n\n\n", " \t \n ", "two  spaces,   three,    four", " lead", "trail ",
    "\ttab\t\tindent\n\t\tdeeper", "line\r\nwindows\rmac", "def f(x):\n    if x:\n        return x  # 注释\n\n\tpass\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\t// tab\n}", "中文English混合 text，标点。Mixed 中英 2024年3月",
    "emoji 😀👍🏽🇨🇳 👨‍👩‍👧 ok", "rare CJK 𠀀𪚥𫠠 and ext-B 𰀀", "▁ the marker ▁▁ itself a▁b ▁",
    "<s></s><unk><0x41> look like specials", "\x00nul\x01\x7f controls", "\u3000全角空格\u00a0nbsp\u200bzwsp",
    "e\u0301 combining vs \u00e9", "\ufeffbom", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "12345678901234567890 3.14159",
    "אבג عربى русский 한국어 日本語のテキスト", "a" * 5000 + " " * 300 + "b\n" * 200,
]


def sample_texts():
    cfg = load_config()["ingest"]
    out = []
    for kind, path in [("books", SAMPLE / "books"), ("forums", SAMPLE / "forums")]:
        from corpus.inputs import list_inputs

        for f in list_inputs([f"{kind}:{path}"]):
            out += [r["text"] for r in read_input(f.kind, f.uri, cfg) if r["reason"] is None]
    return out


@pytest.fixture(scope="module")
def texts():
    return sample_texts()


@pytest.fixture(scope="module")
def tok(texts):
    return Tokenizer(train_model(texts, PARAMS))


def test_adversarial_strings_round_trip(tok):
    for s in ADVERSARIAL:
        ids = tok.encode(s)
        assert ids.dtype == np.dtype("<u2")
        assert tok.decode(ids) == s, repr(s)
    assert [tok.decode(x) for x in tok.encode_batch(ADVERSARIAL)] == ADVERSARIAL
    assert tok.decode(tok.encode(" ".join(ADVERSARIAL))) == " ".join(ADVERSARIAL)


def test_real_documents_round_trip(tok, texts, shared):
    cfg = load_config()["ingest"]
    docs = list(texts)
    for spec in ["books:books/zh_classical_novels", "books:books/en_gutenberg", "forums:forums",
                 "news:news", "jsonl:web/chinesewebtext_CC-MAIN-2021-43_cleared1.jsonl"]:
        kind, rel = spec.split(":")
        from corpus.inputs import list_inputs

        for f in list_inputs([f"{kind}:{shared / rel}"]):
            docs += [r["text"] for r in islice(read_input(f.kind, f.uri, cfg), 300) if r["text"]]
    assert len(docs) > 2000
    bad = [d[:80] for d, ids in zip(docs, tok.encode_batch(docs)) if tok.decode(ids) != d]
    assert not bad
    # whitespace survives in the pieces themselves: runs of spaces, tabs and newlines
    assert {"\n", "\t"} <= {tok.sp.id_to_piece(int(i)) for i in tok.encode("a\tb\nc")}


def test_training_is_reproducible(texts, tok):
    assert train_model(texts, PARAMS) == tok.model
    assert train_model(texts[:500], PARAMS) != tok.model


def test_packer_cuts_across_documents_and_keeps_the_tail():
    p = Packer(4, np.uint16)
    rows = [p.add(np.arange(a, b, dtype=np.uint16)) for a, b in [(0, 3), (3, 4), (4, 13), (13, 14)]]
    assert [len(r) for r in rows] == [0, 1, 2, 0]
    assert np.concatenate(rows).ravel().tolist() == list(range(12))
    assert p.tail().tolist() == [12, 13]


def test_pack_shards_writes_each_shard_and_returns_its_tail():
    dt = np.dtype("<u2")
    files = {}

    class Keep(io.BytesIO):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def close(self):
            files[self.name] = self.getvalue()
            super().close()

    docs = [(0, list(range(1, 8))), (0, [8, 9]), (1, [20, 21, 22]), (1, [23, 24, 25, 26, 27])]
    batch = pa.RecordBatch.from_pydict({"shard": [d[0] for d in docs],
                                        "tokens": [np.array(d[1], dt).tobytes() for d in docs]})
    out = pa.Table.from_batches(list(pack_shards([batch], 4, dt, Keep))).to_pylist()
    assert [(r["shard"], r["sequences"], r["documents"], r["tokens"]) for r in out] == [(0, 2, 2, 9), (1, 2, 2, 8)]
    assert np.frombuffer(files["shard-00000.bin"], dt).tolist() == list(range(1, 9))
    assert np.frombuffer(out[0]["tail"], dt).tolist() == [9]
    assert np.frombuffer(out[1]["tail"], dt).tolist() == []


def test_tokenize_batches_appends_the_end_of_document_id(tok):
    batch = pa.RecordBatch.from_pydict({"id": ["a", "b"], "source": ["web", "web"], "topic": [None, "x"],
                                        "key": [1, 2], "text": ["你好 world", ""]})
    rows = pa.Table.from_batches(list(tokenize_batches([batch], tok.model))).to_pylist()
    first = np.frombuffer(rows[0]["tokens"], tok.dtype)
    assert first[-1] == tok.eos_id and tok.decode(first[:-1]) == "你好 world"
    assert rows[1]["n_tokens"] == 1 and rows[1]["topic"] == "x"


# --- on Spark: a small run with an ingest stage -------------------------------------------

@pytest.fixture(scope="module")
def run_dir(spark, tmp_path_factory):
    d = tmp_path_factory.mktemp("tokens")
    topics = d / "topics.jsonl"
    with topics.open("w") as f:
        for i, text in enumerate(ADVERSARIAL):
            if text.strip():
                f.write(json.dumps({"id": f"a{i}", "text": text, "topic": ["code", "misc"][i % 2]}) + "\n")
    inputs = [f"books:{SAMPLE / 'books'}", f"forums:{SAMPLE / 'forums'}", f"jsonl:{topics}"]
    out = d / "run"
    pipeline.run_pipeline(str(out), inputs, load_config(), stages=["ingest"])
    return out


def cli(*args):
    return main([*args, *sum((["--set", s] for s in SETS), [])])


@pytest.fixture(scope="module")
def model(run_dir):
    assert cli("train-tokenizer", str(run_dir)) == 0
    return (run_dir / "tokenizer" / "spm.model").read_bytes()


def test_train_tokenizer_on_a_run_is_reproducible(run_dir, model):
    report = json.loads((run_dir / "tokenizer" / "report.json").read_text())
    assert report["stage"] == "ingest" and report["sample"]["rate"] == 1.0
    assert cli("train-tokenizer", str(run_dir), "--force") == 0
    assert (run_dir / "tokenizer" / "spm.model").read_bytes() == model
    assert (run_dir / "tokenizer" / "spm.vocab").read_text().count("\n") == 8000


def test_export_loses_no_token(run_dir, model):
    import pyarrow.parquet as pq

    assert cli("export-tokens", str(run_dir)) == 0
    tokens_dir = run_dir / "tokens"
    m = read_manifest(str(tokens_dir))
    tok = Tokenizer(model)
    docs = pq.read_table(run_dir / "ingest").to_pylist()
    encoded = tok.encode_batch([d["text"] for d in docs])
    v = m["validation"]  # tokens.validation_fraction=0.1 held out about a tenth of the documents
    assert 0.03 * len(docs) < v["documents"] < 0.2 * len(docs) and v["sequences"] > 0
    assert v["tokens"] == v["sequences"] * 129 + v["leftover_tokens"]
    expected = sum(len(x) for x in encoded) + len(docs)   # documents plus one separator each
    assert m["tokens"] + v["tokens"] == expected
    assert m["tokens"] == m["sequences"] * 129 + m["leftover_tokens"]
    assert m["documents"] + v["documents"] == len(docs) and len(m["shards"]) > 2
    assert m["tokenizer"]["sha256"] == tok.sha256
    assert sum(s["tokens"] for s in m["by_source"].values()) == m["tokens"]
    ledger = pq.read_table(run_dir / "ledger" / "tokens.parquet").to_pylist()  # both splits
    assert sum(r["tokens"] for r in ledger) == m["tokens"] + v["tokens"]
    assert sum(r["docs"] for r in ledger) == m["documents"] + v["documents"] == len(docs)
    assert {"code", "misc"} <= {g["topic"] for g in m["by_source_topic"] if g["source"] == "jsonl"}

    shards = TokenShards(str(tokens_dir))
    assert len(shards) == m["sequences"]
    stored = np.concatenate([shards.rows(0, len(shards)).ravel(),
                             np.fromfile(tokens_dir / "leftover.bin", "<u2")])
    valid = TokenShards(str(tokens_dir), "validation")
    stored_valid = valid.rows(0, len(valid)).ravel()
    want = Counter(np.concatenate(encoded).tolist())
    want[tok.eos_id] += len(docs)
    assert Counter(stored.tolist()) + Counter(stored_valid.tolist()) <= want
    assert sum((want - Counter(stored.tolist()) - Counter(stored_valid.tolist())).values()) == v["leftover_tokens"]
    # documents whole inside a shard decode to themselves
    texts = {d["text"] for d in docs}
    inner = np.split(shards.shards[0].ravel(), np.flatnonzero(shards.shards[0].ravel() == tok.eos_id) + 1)[1:-1]
    assert inner and all(tok.decode(x[:-1]) in texts for x in inner)
    assert shards.rows(len(shards) - 1, 2)[1].tolist() == shards.rows(0, 1)[0].tolist()  # wraps around


def test_validation_split_is_disjoint_and_deterministic(run_dir, model, spark):
    """The held-out documents (a hash of the id) are exactly those packed, in key order, into
    validation/; none of them is in the training shards; an export again gives the same bytes."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from corpus.tokens.export import held_out

    if not (run_dir / "tokens" / MANIFEST_NAME).exists():
        assert cli("export-tokens", str(run_dir)) == 0
    m = read_manifest(str(run_dir / "tokens"))
    df = spark.read.parquet(str(run_dir / "ingest"))
    held = {r.id for r in df.where(held_out(F.col("id"), 0.1)).select("id").collect()}
    keyed = df.select("id", F.xxhash64(F.lit(1), "id").alias("key")).collect()
    docs = {d["id"]: d["text"] for d in pq.read_table(run_dir / "ingest").to_pylist()}
    tok = Tokenizer(model)
    order = sorted((r.key, r.id) for r in keyed if r.id in held)
    stream = np.concatenate([np.append(tok.encode(docs[i]), tok.eos_id) for _, i in order])
    valid = TokenShards(str(run_dir / "tokens"), "validation")
    assert m["validation"]["documents"] == len(held) > 0
    assert np.array_equal(valid.rows(0, len(valid)).ravel(), stream[:len(valid) * 129])
    # disjoint: no held-out document whole inside the training shards
    train = TokenShards(str(run_dir / "tokens"))
    flat = train.rows(0, len(train)).ravel()
    inner = {tok.decode(x[:-1]) for x in np.split(flat, np.flatnonzero(flat == tok.eos_id) + 1)[1:-1]}
    held_texts = {docs[i] for i in held} - {docs[i] for i in docs if i not in held}
    assert inner and not inner & held_texts
    # each training document is in the shard, and at the place, it has in an export without a
    # split (key mod shards, key order; the number of shards counts every document)
    n_shards = len(m["shards"]) - 1  # (the last shard holds the packed tails)

    def expected(k, ids):
        return [docs[i] for _, i in sorted((r.key, r.id) for r in keyed if r.key % n_shards == k and r.id in ids)]

    for k, s in enumerate(m["shards"][:-1]):
        kept = _shard_docs(tok, np.fromfile(run_dir / "tokens" / s["path"], "<u2"))
        assert kept and kept == expected(k, set(docs) - held)[:len(kept)]
    assert main(["export-tokens", str(run_dir), "--force",
                 *sum((["--set", s] for s in SETS[:-1]), []), "--set", "tokens.validation_fraction=0"]) == 0
    whole = read_manifest(str(run_dir / "tokens"))
    assert "validation" not in whole and whole["documents"] == len(docs)
    assert len(whole["shards"]) == len(m["shards"])
    for k, s in enumerate(whole["shards"][:-1]):
        everything = _shard_docs(tok, np.fromfile(run_dir / "tokens" / s["path"], "<u2"))
        assert everything == expected(k, set(docs))[:len(everything)]
    assert cli("export-tokens", str(run_dir), "--force") == 0  # the split again, as the other tests expect
    assert {s["sha256"] for s in read_manifest(str(run_dir / "tokens"))["validation"]["shards"]} == {
        s["sha256"] for s in m["validation"]["shards"]}


def _shard_docs(tok, flat):
    """The documents a shard holds from its start, the one its last row cuts left out."""
    return [tok.decode(x[:-1]) for x in np.split(flat, np.flatnonzero(flat == tok.eos_id) + 1)[:-1]]
