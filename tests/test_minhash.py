"""MinHash-LSH: signatures equal to datasketch's, the bands' S-curve measured, the stage on
Spark with `dedup.near: minhash` and `both`."""

import numpy as np

import pytest

from corpus.config import load_config
from corpus.dedup.minhash import (
    MinHasher,
    Shingler,
    band_keys,
    bands_of,
    candidate_probability,
    choose_bands,
    permutations,
    signatures,
)
from corpus.quality.clean import CLEAN_DOC_SCHEMA
from tests.test_dedup import edit, novel_chapters, rows_for


def _datasketch():
    return pytest.importorskip("datasketch")  # in the `bench` extra; only the equality tests need it

TEXTS = ["我们是中国人，我们爱自己的祖国。今天天气很好 hello World foo bar baz qux 2024 年",
         "The quick brown fox jumps over the lazy dog, again and AGAIN and again.",
         "短", "", "繁體中文測試文字內容，這是一個例子啊啊啊", "Ünïcödé wörds — mixed 中文 and English 混合 text here"]


@pytest.mark.parametrize("scheme,units", [("affine32", "words"), ("legacy", "words"), ("affine32", "chars")])
def test_sha1_signatures_equal_datasketch(scheme, units):
    datasketch = _datasketch()
    cfg = {"shingle": 5, "word_shingle": 5, "hash": "sha1", "num_perm": 64, "seed": 7, "scheme": scheme,
           "t2s": False, "units": units}
    sigs, valid = MinHasher(cfg).batch(TEXTS)
    shingler = Shingler(cfg)
    for text, sig, ok in zip(TEXTS, sigs, valid):
        shingles = shingler.shingle_texts(text)
        assert ok == bool(shingles)
        m = datasketch.MinHash(num_perm=64, seed=7, scheme=scheme)
        m.update_batch([s.encode("utf-8") for s in shingles])
        assert np.array_equal(m.hashvalues.astype(np.uint64), sig.astype(np.uint64)), text
    assert Shingler(cfg).shingle_texts(TEXTS[0])[:2] == ["我们是中国", "们是中国人"]
    if units == "words":
        assert "the quick brown fox jumps" in Shingler(cfg).shingle_texts(TEXTS[1])
    else:  # every letter a token, spaces and punctuation skipped
        assert Shingler(cfg).shingle_texts(TEXTS[1])[:2] == ["thequ", "hequi"]


def test_units_and_their_fast_hashes():
    """`units: chars` makes character n-grams of other scripts too; the fast hashes see the
    letters whatever separates them, words do not."""
    words = Shingler({"shingle": 2, "word_shingle": 2, "t2s": False})
    chars = Shingler({"shingle": 2, "units": "chars", "t2s": False})
    assert words.shingle_texts("ab cd, ef") == ["ab cd", "cd ef"]
    assert chars.shingle_texts("ab cd, ef") == ["ab", "bc", "cd", "de", "ef"]
    assert words.shingle_texts("中文ab") == ["中文", "文 ab"]
    assert chars.shingle_texts("中文ab") == ["中文", "文a", "ab"]
    h1, _ = chars.hashes(["ab cd"], want64=True)
    h2, _ = chars.hashes(["a-b-c d"], want64=True)
    h3, _ = words.hashes(["ab cd"], want64=True)
    assert np.array_equal(h1, h2) and not np.array_equal(h2, h3)
    with pytest.raises(ValueError, match="units must be one of"):
        Shingler({"units": "bytes"})


@pytest.mark.parametrize("hash_", ["fast", "sha1"])
def test_a_shingle_has_the_size_of_its_first_tokens_script(hash_):
    """`shingle` tokens from a CJK character, `word_shingle` from a word (the defaults: 2 and
    1); none runs past its document; the fast hashes make the same sets as the strings."""
    sh = Shingler({"shingle": 2, "word_shingle": 1, "t2s": False, "hash": hash_})
    assert sh.shingle_texts("中文字 ab cd, ab") == ["中文", "文字", "字 ab", "ab", "cd"]
    assert sh.shingle_texts("ab 中") == ["ab"]  # "中" would need a second token
    texts = ["中文字 ab cd, ab", "ab 中", "字 ab ab cd 中文字", "", "中"]
    h, d = sh.hashes(texts, want64=True)
    sets = [frozenset(h[d == i].tolist()) for i in range(len(texts))]
    assert [len(x) for x in sets] == [5, 1, 5, 0, 0]
    assert sets[0] == sets[2]  # the same shingles in another order
    h32, d32 = sh.hashes(texts)
    assert np.bincount(d32, minlength=5).tolist() == [6, 1, 6, 0, 0]  # repeats kept


def test_fast_signatures_equal_datasketch_on_the_same_hashes():
    """`hash: fast` changes only the shingle hash: datasketch fed those 32-bit values (identity
    hashfunc) gives the same signature."""
    datasketch = _datasketch()
    cfg = {"shingle": 3, "hash": "fast", "num_perm": 128, "seed": 1, "t2s": True}
    sigs, _ = MinHasher(cfg).batch(TEXTS)
    h, d = Shingler(cfg).hashes(TEXTS)
    for i, sig in enumerate(sigs):
        m = datasketch.MinHash(num_perm=128, seed=1, hashfunc=lambda x: x)
        m.update_batch([int(x) for x in h[d == i]])
        assert np.array_equal(m.hashvalues.astype(np.uint64), sig.astype(np.uint64))


def test_signatures_do_not_depend_on_batching():
    chapters = novel_chapters(6)
    mh = MinHasher({"shingle": 5, "num_perm": 32, "seed": 3})
    whole, _ = mh.batch(chapters)
    one_by_one = np.vstack([mh.batch([c])[0] for c in chapters])
    assert np.array_equal(whole, one_by_one)
    # a pass boundary inside a document: minima combine
    h, d = mh.shingler.hashes(chapters)
    assert np.array_equal(signatures(h, d, 6, mh.perm, chunk=1000), whole)


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_bands_as_datasketch_chooses_them(threshold):
    _datasketch()
    from datasketch.lsh import _optimal_param

    got = choose_bands(threshold, 128)
    assert (got.bands, got.rows) == _optimal_param(threshold, 128, 0.5, 0.5)
    assert abs(candidate_probability(got.midpoint, got.bands, got.rows) - 0.5) < 1e-9
    assert 0 < got.false_positive < 0.1 and 0 < got.false_negative < 0.1


def test_s_curve_measured():
    """Pairs of shingle sets at known Jaccard become candidates (share a band) at the rate the
    S-curve predicts, within 4 standard deviations."""
    rng = np.random.default_rng(5)
    bands = choose_bands(0.8, 128, 0.2, 0.8)
    perm = permutations(128, 11)
    pairs = 300
    for jac in (0.5, 0.7, 0.8, 0.9, 0.95):
        size = 400  # |A| = |B|; |A & B| = 2 J size / (1 + J)
        common = int(round(2 * jac * size / (1 + jac)))
        vals = rng.choice(1 << 32, size=(pairs, 2 * size - common), replace=False).astype(np.uint32)
        a = vals[:, :size]
        b = np.concatenate([vals[:, :common], vals[:, size:]], axis=1)
        hashes = np.concatenate([a.ravel(), b.ravel()])
        doc = np.repeat(np.arange(2 * pairs), size)
        sigs = signatures(hashes, doc, 2 * pairs, perm)
        keys = band_keys(sigs, bands.bands, bands.rows)
        hit = (keys[:pairs] == keys[pairs:]).any(axis=1).mean()
        true_j = common / (2 * size - common)
        p = candidate_probability(true_j, bands.bands, bands.rows)
        sd = np.sqrt(p * (1 - p) / pairs) + 1e-3
        assert abs(hit - p) <= 4 * sd, (jac, hit, p)


def test_bands_of_config():
    cfg = load_config()["dedup"]["minhash"]
    b = bands_of(cfg)
    assert b.bands * b.rows <= cfg["num_perm"] and b.midpoint < cfg["threshold"]
    assert (bands_of({**cfg, "bands": [16, 8]}).bands, bands_of({**cfg, "bands": [16, 8]}).rows) == (16, 8)
    from corpus.config_schema import SCHEMA, ConfigError

    bad = load_config()
    bad["dedup"]["minhash"]["bands"] = [20, 10]
    with pytest.raises(ConfigError, match="num_perm"):
        SCHEMA.check(bad, "")


def _outcomes(spark, docs, method):
    from corpus.dedup.stage import dedup_outcomes_df
    from corpus.spark import spark_schema

    df = spark.createDataFrame(rows_for(docs), schema=spark_schema(CLEAN_DOC_SCHEMA))
    cfg = load_config(overrides=[f"dedup.near={method}"])["dedup"]
    outcomes, report = dedup_outcomes_df(spark, df, len(docs), cfg)
    return {r["id"]: r for r in outcomes.collect()}, report


def test_stage_with_minhash(spark):
    a, b, c, d = novel_chapters(4)
    docs = [(a, 0.5), (edit(a, 0.01, 1), 0.9),   # a 1% edit: J ~ 0.9, d01 kept on score
            (b, 0.7), (b, 0.1),                     # exact
            (c, 0.6), (d, None), ("很短", 0.9)]
    got, report = _outcomes(spark, docs, "minhash")
    assert len(got) == len(docs)
    assert (got["d00"]["reason"], got["d00"]["detail"], got["d00"]["cluster_id"]) == ("minhash_duplicate", "d01", "d01")
    assert got["d00"]["near_method"] == "minhash" and 0.8 <= got["d00"]["jaccard"] < 1
    assert abs(got["d00"]["est_jaccard"] - got["d00"]["jaccard"]) < 0.15
    assert got["d01"]["reason"] is None and got["d01"]["near_method"] == "minhash"
    assert got["d03"]["reason"] == "exact_duplicate" and got["d03"]["jaccard"] is None
    assert all(got[i]["reason"] is None and got[i]["near_method"] is None for i in ("d02", "d04", "d05", "d06"))
    mh = report["minhash"]
    assert mh["pairs"] == 1 and mh["candidate_pairs"] >= 1 and mh["verified"] and mh["capped_buckets"] == 0
    assert mh["bands"] * mh["rows"] <= mh["num_perm"] and "S-curve 50%" in mh["describe"]
    assert report["cluster_size_histogram"] == {2: 2}


def test_stage_with_both(spark):
    a, b, c, _ = novel_chapters(4)
    docs = [(b, 0.7), (edit(b, 0.001, 2), 0.7), (edit(b, 0.001, 3) + "多一些字", 0.7),  # SimHash finds these
            (a, 0.5), (edit(a, 0.03, 1) + edit(a[:300], 0.0, 0), 0.9),  # edited more
            (c, 0.4)]
    got, report = _outcomes(spark, docs, "both")
    assert got["d02"]["reason"] is None and got["d02"]["cluster_id"] == "d02"
    for i in ("d00", "d01"):
        assert got[i]["reason"] == "near_duplicate" and got[i]["detail"] == "d02"
        assert got[i]["near_method"] in ("simhash", "both")
    for r in got.values():  # the reason names the method: SimHash's where a SimHash pair touches it
        if r["reason"] in ("near_duplicate", "minhash_duplicate"):
            assert (r["reason"] == "near_duplicate") == (r["near_method"] in ("simhash", "both"))
    assert got["d05"]["reason"] is None and got["d05"]["near_method"] is None
    assert report["near"] == "both" and report["pairs_within_k"] >= 3


def test_default_outcomes_have_no_minhash_columns(spark):
    a, b = novel_chapters(2)
    got, report = _outcomes(spark, [(a, 0.5), (b, 0.5)], "simhash")
    assert "near_method" not in got["d00"] and "minhash" not in report
