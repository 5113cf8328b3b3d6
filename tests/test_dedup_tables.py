"""SimHash permuted tables: the pigeonhole guarantee in code, and the Spark pair search and
connected components against numpy / union-find references."""

import glob
import itertools
import math
import random
import re

import numpy as np
import pytest

from corpus.dedup.simhash import simhash
from corpus.dedup.tables import (MAX_TABLES, Layout, _popcount_bytes, brute_force_pairs,
                                 candidate_pairs, choose_layout, hamming, pigeonhole_holds,
                                 to_signed, to_unsigned, verified_pairs)

BOILERPLATE = ["本文来源：网络，如有侵权请联系删除。", "责任编辑：王小明",
               "关注我们的微信公众号，获取更多资讯。",
               "【版权声明】转载请注明出处"]


def _texts(shared, rng):
    """Documents of 1-3 consecutive paragraphs of the novels, and news short texts."""
    paras = []
    for path in sorted(glob.glob(str(shared / "books" / "zh_classical_novels" / "*.txt"))):
        with open(path, encoding="utf-8") as f:
            paras += [p.strip() for p in f.read().split("\n") if len(p.strip()) >= 30]
    with open(shared / "news" / "lcsts_PART_III.txt", encoding="utf-8") as f:
        news = re.findall(r"<short_text>\s*(.*?)\s*</short_text>", f.read(), re.DOTALL)
    docs = []
    for start in sorted(rng.sample(range(len(paras) - 3), 1600)):
        docs.append("\n".join(paras[start:start + rng.randint(1, 3)]))
    return docs + rng.sample(news, 400)


def _edit(text, rng):
    """A planted near-duplicate: character edits, boilerplate lines, or reordered paragraphs."""
    kind = rng.choice(["chars", "boilerplate", "reorder"])
    if kind == "reorder" and text.count("\n") >= 1:
        lines = text.split("\n")
        rng.shuffle(lines)
        return "\n".join(lines)
    if kind == "boilerplate":
        lines = text.split("\n")
        for line in rng.sample(BOILERPLATE, rng.randint(1, 2)):
            lines.insert(rng.randint(0, len(lines)), line)
        return "\n".join(lines)
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op, pos = rng.random(), rng.randrange(len(chars))
        if op < 0.4:
            chars[pos] = rng.choice(chars)
        elif op < 0.7:
            chars.insert(pos, rng.choice(chars))
        elif len(chars) > 1:
            del chars[pos]
    return "".join(chars)


@pytest.fixture(scope="module")
def fingerprints(shared):
    """~5,000 fingerprints: real documents, planted text near-duplicates and exact copies,
    random uint64s, and bit flips of 0..9 bits (pairs at every distance around each k)."""
    rng = random.Random(20070508)
    docs = _texts(shared, rng)
    planted = [_edit(d, rng) for d in rng.sample(docs, 700)] + rng.sample(docs, 40)
    fps = [simhash(t) for t in docs + planted]
    nrng = np.random.default_rng(7)
    randoms = nrng.integers(0, 2**64 - 1, 1500, dtype=np.uint64, endpoint=True)
    base = np.concatenate([np.array(fps[:150], dtype=np.uint64), randoms[:150]])
    flips = []
    for fp in base:
        for d in nrng.integers(0, 10, 2):
            mask = 0
            for bit in nrng.choice(64, size=int(d), replace=False):
                mask |= 1 << int(bit)
            flips.append(int(fp) ^ mask)
    out = np.concatenate([np.array(fps, dtype=np.uint64), randoms,
                          np.array(flips, dtype=np.uint64)])
    return out, len(docs), len(planted)


# --- layouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("k,blocks", [(0, 1), (1, 2), (3, 4), (3, 5), (3, 6), (3, 7), (4, 6),
                                      (6, 8), (6, 10), (1, 64)])
def test_layout_structure(k, blocks):
    layout = Layout(k, blocks)
    assert sum(layout.sizes) == 64 and max(layout.sizes) - min(layout.sizes) <= 1
    assert layout.n_tables == math.comb(blocks, k)
    assert all(len(t) == blocks - k for t in layout.tables)
    assert len(set(layout.tables)) == layout.n_tables
    assert layout.key_bits == tuple(sum(layout.sizes[b] for b in t) for t in layout.tables)
    assert pigeonhole_holds(layout)
    # keys are the chosen blocks' bits concatenated, most significant block first
    rng = np.random.default_rng(blocks)
    fps = np.concatenate([rng.integers(0, 2**64 - 1, 50, dtype=np.uint64, endpoint=True),
                          np.array([0, 2**64 - 1, 2**63, 1], dtype=np.uint64)])
    keys = layout.keys(fps)
    assert keys.shape == (layout.n_tables, fps.size) and keys.dtype == np.uint64
    for t, chosen in enumerate(layout.tables):
        for i in (0, 1, 50, 51, 52, 53):
            bits = format(int(fps[i]), "064b")
            starts = np.cumsum((0,) + layout.sizes)
            expect = "".join(bits[starts[b]:starts[b + 1]] for b in chosen)
            assert int(keys[t, i]) == int(expect, 2)


def test_pigeonhole_on_random_flips():
    rng = np.random.default_rng(3)
    for k, blocks in [(3, 4), (3, 6), (4, 7), (6, 8), (6, 11)]:
        layout = Layout(k, blocks)
        fps = rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64, endpoint=True)
        masks = np.zeros_like(fps)
        for i in range(fps.size):
            for bit in rng.choice(64, size=k, replace=False):
                masks[i] |= np.uint64(1) << np.uint64(bit)
        assert (hamming(fps, fps ^ masks) == k).all()
        same = (layout.keys(fps) == layout.keys(fps ^ masks)).any(axis=0)
        assert same.all()


def test_choose_layout():
    big = choose_layout(3, 2**30)
    assert (big.blocks, big.n_tables) == (6, 20) and min(big.key_bits) >= 31
    assert big.expected_candidates(2**30) == pytest.approx(5.5)
    for k, n in [(3, 10**5), (3, 10**6), (3, 10**9), (4, 10**6), (6, 10**6), (6, 20_000)]:
        layout = choose_layout(k, n, target_candidates=10)
        assert layout.k == k and layout.expected_candidates(n) <= 10
        if layout.blocks > k + 1:  # the next smaller layout misses the target
            assert Layout(k, layout.blocks - 1).expected_candidates(n) > 10
    assert (choose_layout(3, 10**5).blocks, choose_layout(3, 10**6).blocks) == (4, 5)
    assert choose_layout(3, 10**6, target_candidates=100).blocks == 4
    # nothing meets an impossible target: the most blocks searched (2k+3)
    assert choose_layout(2, 10**12, target_candidates=1e-9).blocks == 7
    # the search never builds a layout with more than MAX_TABLES tables
    assert choose_layout(20, 10**9).n_tables <= MAX_TABLES
    for bad in [(3, 3), (-1, 2), (2, 65), (10, 40)]:  # the last: C(40, 10) tables
        with pytest.raises(ValueError):
            Layout(*bad)


def test_popcount_fallback():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.integers(0, 2**64 - 1, (30, 7), dtype=np.uint64, endpoint=True).ravel(),
                        np.array([0, 2**64 - 1, 2**63], dtype=np.uint64)])
    assert _popcount_bytes(x).tolist() == [int(v).bit_count() for v in x]
    assert _popcount_bytes(x.reshape(-1, 1)).shape == (x.size, 1)


def test_signed_round_trip():
    fps = np.array([0, 1, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
    signed = to_signed(fps)
    assert signed.tolist() == [0, 1, 2**63 - 1, -2**63, -1]
    assert to_unsigned(signed).tolist() == fps.tolist()


# --- the guarantee ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", [3, 4, 6])
def test_tables_find_exactly_the_brute_force_pairs(fingerprints, k):
    fps, n_docs, n_planted = fingerprints
    truth = brute_force_pairs(fps, k)
    assert (truth[:, 2] == k).sum() > 20 and (truth[:, 2] == 0).sum() > 20
    # some planted text near-duplicates (not only the bit flips) are among them
    i, j = truth[:, 0], truth[:, 1]
    text = truth[(i < n_docs) & (j >= n_docs) & (j < n_docs + n_planted)]
    assert len(text) > 100
    for layout in {choose_layout(k, fps.size), Layout(k, k + 1), Layout(k, k + 3)}:
        found = verified_pairs(fps, k, layout)
        assert np.array_equal(found, truth), layout.describe()
        cand = candidate_pairs(fps, layout)
        assert len(cand) >= len(found) and (cand[:, 0] < cand[:, 1]).all()
    with pytest.raises(ValueError):
        verified_pairs(fps, k, Layout(k - 1, k))


def test_brute_force_reference_agrees_with_a_plain_loop():
    rng = np.random.default_rng(11)
    fps = rng.integers(0, 2**64 - 1, 300, dtype=np.uint64, endpoint=True)
    fps[100:200] = fps[:100] ^ np.uint64(0b1011)
    expect = [(i, j, (int(fps[i]) ^ int(fps[j])).bit_count())
              for i, j in itertools.combinations(range(fps.size), 2)]
    expect = [p for p in expect if p[2] <= 3]
    assert [tuple(p) for p in brute_force_pairs(fps, 3, block_rows=64).tolist()] == expect


def _table_rows(fps, layout):
    """(id, simhash, table, key) rows sorted as the Spark stage sorts them, as Arrow batches."""
    import pyarrow as pa

    ids = np.array([f"d{i:05d}" for i in range(fps.size)])
    keys = to_signed(layout.keys(fps))
    t = np.repeat(np.arange(layout.n_tables), fps.size)
    rows = sorted(zip(t.tolist(), keys.ravel().tolist(), np.tile(to_signed(fps), layout.n_tables).tolist(),
                      np.tile(ids, layout.n_tables).tolist()))
    table = pa.table({"id": [r[3] for r in rows], "simhash": pa.array([r[2] for r in rows], pa.int64()),
                      "table": pa.array([r[0] for r in rows], pa.int32()),
                      "key": pa.array([r[1] for r in rows], pa.int64())})
    return table.to_batches(max_chunksize=7)  # buckets cut across batches


def test_bucket_scan_equals_brute_force_across_batches(fingerprints, monkeypatch):
    from corpus.dedup import buckets

    monkeypatch.setattr(buckets, "_ROWS_PER_PASS", 50)  # many passes, buckets carried over
    fps = fingerprints[0][:3000]
    k, layout = 4, Layout(4, 6)
    out = pa_concat(buckets.bucket_pairs(_table_rows(fps, layout), k, max_bucket=10**6))
    got = sorted({(int(a[1:]), int(b[1:]), d) for a, b, d in
                  zip(out["id_a"].to_pylist(), out["id_b"].to_pylist(), out["distance"].to_pylist())})
    assert got == [tuple(p) for p in brute_force_pairs(fps, k).tolist()]
    assert out["table"].null_count == out.num_rows  # no capped bucket


def test_bucket_scan_caps_large_buckets():
    from corpus.dedup import buckets

    f = np.uint64(0x0123_4567_89AB_CDEF)
    fps = np.array([f] * 12 + [f ^ np.uint64(1)] * 3 + [f ^ np.uint64(1 << 40)], dtype=np.uint64)
    out = pa_concat(buckets.bucket_pairs(_table_rows(fps, Layout(3, 4)), 3, max_bucket=10))
    pairs = {(a, b, d) for a, b, d in zip(out["id_a"].to_pylist(), out["id_b"].to_pylist(),
                                          out["distance"].to_pylist()) if a is not None}
    star = {("d00000", f"d{i:05d}", 0) for i in range(1, 12)}
    star |= {("d00012", "d00013", 0), ("d00012", "d00014", 0)}  # f^1 in tables 0-2 (capped)
    star.add(("d00013", "d00014", 0))  # and all pairs of its own small bucket in table 3
    assert pairs == star  # f-f^1 (distance 1) and f-f^(1<<40) only share capped buckets
    capped = sorted(c for c in zip(out["table"].to_pylist(), out["size"].to_pylist()) if c[0] is not None)
    assert capped == [(0, 16), (1, 15), (2, 16), (3, 13)]


def pa_concat(batches):
    import pyarrow as pa

    from corpus.dedup.buckets import BUCKET_SCHEMA

    return pa.Table.from_batches(list(batches), schema=BUCKET_SCHEMA)


# --- Spark -----------------------------------------------------------------------------------

def _docs_df(spark, fps):
    ids = [f"d{i:05d}" for i in range(len(fps))]
    return spark.createDataFrame(list(zip(ids, to_signed(fps).tolist())), "id string, simhash long")


def test_spark_keys_match_numpy(spark):
    from corpus.dedup.spark_dedup import table_keys_df

    rng = np.random.default_rng(5)
    fps = np.concatenate([rng.integers(0, 2**64 - 1, 40, dtype=np.uint64, endpoint=True),
                          np.array([0, 2**64 - 1, 2**63], dtype=np.uint64)])
    for layout in (Layout(3, 6), Layout(0, 1)):
        rows = table_keys_df(_docs_df(spark, fps), layout).collect()
        keys = layout.keys(fps)
        got = {(r.table, int(r.id[1:])): r.key for r in rows}
        assert len(got) == layout.n_tables * fps.size
        assert all(to_signed(keys[t, i]) == v for (t, i), v in got.items())


def test_spark_candidate_pairs_equal_numpy(spark, fingerprints):
    from corpus.dedup.spark_dedup import candidate_pairs_df

    fps = fingerprints[0]
    k = 3
    layout = choose_layout(k, fps.size)
    result = candidate_pairs_df(_docs_df(spark, fps), layout, k, max_bucket=100_000)
    got = sorted((int(r.id_a[1:]), int(r.id_b[1:]), r.distance) for r in result.pairs.collect())
    assert got == [tuple(p) for p in verified_pairs(fps, k, layout).tolist()]
    assert result.capped_buckets() == 0


def test_capped_buckets_keep_identical_fingerprint_stars(spark):
    from corpus.dedup.spark_dedup import candidate_pairs_df

    layout = Layout(3, 4)  # four tables, one 16-bit block each
    f = 0x0123_4567_89AB_CDEF
    g = f ^ 1  # differs from f in the last block only: shares f's bucket in tables 0-2
    near = [0xFFFF_0000_1234_5678, 0xFFFF_0000_1234_5678 ^ 0b111]
    fps = [f] * 30 + [g] * 5 + near + [(0x1111_2222_3333_4444 * (i + 3)) % 2**64 for i in range(20)]
    ids = [f"x{i:03d}" for i in range(len(fps))]
    ids[7] = "a-smallest-f"  # the star's centre is the smallest id, wherever it sits
    df = spark.createDataFrame(list(zip(ids, to_signed(np.array(fps, dtype=np.uint64)).tolist())),
                               "id string, simhash long")
    result = candidate_pairs_df(df, layout, 3, max_bucket=10)
    got = {(r.id_a, r.id_b, r.distance) for r in result.pairs.collect()}
    f_ids, g_ids = ids[:30], ids[30:35]
    expect = {("a-smallest-f", i, 0) for i in f_ids if i != "a-smallest-f"}
    # g's copies share a bucket of 5 in table 3: all their pairs
    expect |= {(a, b, 0) for a, b in itertools.combinations(sorted(g_ids), 2)}
    expect.add((ids[35], ids[36], 3))
    assert got == expect  # f-g pairs (distance 1) only ever shared capped buckets
    # f's bucket in every table (with g's in tables 0-2); g's own bucket in table 3 is small
    assert result.capped_buckets() == 4
    capped = sorted((r.table, r.size) for r in result.capped.collect())
    assert capped == [(0, 35), (1, 35), (2, 35), (3, 30)]


# --- connected components --------------------------------------------------------------------

def _union_find(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}


def _components(spark, edges, **kw):
    from corpus.dedup.spark_dedup import connected_components

    df = spark.createDataFrame(edges, "src string, dst string")
    rows = connected_components(df, spark, **kw).collect()
    out = {r.id: r.component for r in rows}
    assert len(out) == len(rows)  # one row per id
    return out


def test_connected_components_small_graphs(spark):
    rng = random.Random(4)
    graphs = {
        "chain": [(f"c{i}", f"c{i + 1}") for i in range(12)],
        "star": [("s5", f"s{i}") for i in range(10) if i != 5],
        "two": [("a", "b"), ("b", "c"), ("y", "x"), ("x", "w"), ("b", "a")],
        "loop": [("q", "q"), ("p", "p"), ("p", "o")],
        "zigzag": [("z9", "z1"), ("z1", "z8"), ("z8", "z2"), ("z2", "z7"), ("z7", "z3")],
        "random": [(f"r{rng.randrange(120)}", f"r{rng.randrange(120)}") for _ in range(100)],
    }
    edges = [e for g in graphs.values() for e in g]
    got = _components(spark, edges)
    assert got == _union_find(edges)
    assert got["q"] == "q" and got["o"] == "o" and got["s0"] == "s0" and got["w"] == "w"
    # the result depends on the edge set only, not on order or direction
    flipped = [(b, a) for a, b in reversed(edges)]
    assert _components(spark, flipped) == got
    # a graph under the driver threshold is solved there, with the same result; one over it is not
    assert _components(spark, flipped, driver_edges=len(edges)) == got
    assert _components(spark, edges + [(None, "n1"), ("n2", None)], driver_edges=len(edges) + 2) == \
        {**got, "n1": "n1", "n2": "n2"}


def test_connected_components_long_paths(spark):
    rng = random.Random(9)
    sorted_path = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(199)]  # labels along the path
    labels = [f"m{i:03d}" for i in range(200)]
    rng.shuffle(labels)
    shuffled_path = [(labels[i], labels[i + 1]) for i in range(199)]
    edges = sorted_path + shuffled_path
    rng.shuffle(edges)
    got = _components(spark, edges)
    assert got == _union_find(edges)
    assert set(got.values()) == {"n000", "m000"}


def test_connected_components_gives_up_after_max_iter(spark):
    path = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(64)]
    with pytest.raises(RuntimeError, match="did not converge"):
        _components(spark, path, max_iter=2)


def test_connected_components_checkpoint_modes(spark, tmp_path):
    edges = [("n5", "n3"), ("n3", "n4"), ("n4", "n1"), ("n1", "n2"), ("u", "v")]
    got = _components(spark, edges, checkpoint_dir=str(tmp_path / "ckpt"))  # reliable, every round
    assert got == _union_find(edges)
    small = [("e", "d"), ("d", "c"), ("c", "b"), ("b", "a"), ("f", "g")]
    # round 1 persisted, round 2 local checkpoint
    assert _components(spark, small, checkpoint_every=2) == _union_find(small)
