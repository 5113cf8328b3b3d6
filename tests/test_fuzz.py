"""Corrupted WARCs never crash the reader and never lose a record that is still readable.

For each sample WARC (gzip per record) we know where every member starts. After a random
corruption, every record whose member the corruption did not touch must come out exactly
as from the clean file: same WARC-Record-ID, same decision, same text.
"""

import gzip
import random
from collections import Counter

import pytest

from corpus.ingest import read_input
from corpus.ingest.warc import read_warc
from tests.conftest import SAMPLE
from tests.warcs import assert_tallied, gzip_members, http_response, page, warc_record

WARCS = sorted((SAMPLE / "warc").glob("*.warc.gz"))
TRIALS = 25


def signature(row):
    meta = dict(row["meta"])
    return (meta.get("warc_record_id"), row["reason"], row["text"])


def read_bytes(tmp_path, data, name="f.warc.gz", reader="fastwarc"):
    p = tmp_path / name
    p.write_bytes(data)
    assert_tallied("warc", p, {"reader": reader})
    return list(read_warc(str(p), {"reader": reader}))


def members(path):
    """(start, end, signature) of each record of a clean file."""
    rows = list(read_warc(str(path), {}))
    starts = [int(dict(r["meta"])["offset"]) for r in rows]
    ends = starts[1:] + [path.stat().st_size]
    return [(s, e, signature(r)) for s, e, r in zip(starts, ends, rows)]


def assert_kept(expected, rows):
    got = Counter(signature(r) for r in rows)
    missing = Counter(expected) - got
    assert not missing, f"lost readable records: {list(missing)[:3]}"


@pytest.mark.slow  # many trials over real WARCs (the fuzz tier)
@pytest.mark.parametrize("path", WARCS, ids=lambda p: p.name)
def test_truncation(tmp_path, path):
    data, recs, rng = path.read_bytes(), members(path), random.Random(1)
    for _ in range(TRIALS):
        cut = rng.randrange(len(data))
        rows = read_bytes(tmp_path, data[:cut])
        assert_kept([sig for s, e, sig in recs if e <= cut], rows)


@pytest.mark.slow  # many trials over real WARCs (the fuzz tier)
@pytest.mark.parametrize("reader", ["fastwarc", "warcio"])
@pytest.mark.parametrize("path", WARCS, ids=lambda p: p.name)
def test_flipped_bytes(tmp_path, path, reader):
    data, recs, rng = path.read_bytes(), members(path), random.Random(2)
    for _ in range(TRIALS):
        spots = [rng.randrange(len(data)) for _ in range(rng.randint(1, 3))]
        bad = bytearray(data)
        for p in spots:
            bad[p] ^= rng.randint(1, 255)
        rows = read_bytes(tmp_path, bytes(bad), reader=reader)
        untouched = [sig for s, e, sig in recs if not any(s <= p < e for p in spots)]
        assert_kept(untouched, rows)


@pytest.mark.slow  # many trials over real WARCs (the fuzz tier)
@pytest.mark.parametrize("path", WARCS, ids=lambda p: p.name)
def test_garbage_between_records(tmp_path, path):
    data, recs, rng = path.read_bytes(), members(path), random.Random(3)
    for _ in range(TRIALS):
        s, _, _ = recs[rng.randrange(len(recs))]
        junk = rng.choice([b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999999\r\n\r\n",
                           b"\x1f\x8b\x08" + rng.randbytes(200), rng.randbytes(500)])
        rows = read_bytes(tmp_path, data[:s] + junk + data[s:])
        assert_kept([sig for _, _, sig in recs], rows)
        assert any(r["reason"] == "unreadable" for r in rows)


def test_fifty_megabyte_record_and_empty_file(tmp_path):
    zh = "北京大学的研究人员今天发布了一份关于城市交通的长篇报告。"
    big = page("big", "x" * (50 << 20))
    data = gzip_members([warc_record(http_response(page("a", zh)), url="http://e.com/a"),
                         warc_record(http_response(big), url="http://e.com/big"),
                         warc_record(http_response(page("c", zh)), url="http://e.com/c")])
    rows = read_bytes(tmp_path, data)
    assert [(r["url"], r["reason"]) for r in rows] == [
        ("http://e.com/a", None), ("http://e.com/big", "too_large"), ("http://e.com/c", None)]
    for name, data, reason in (("empty.warc.gz", b"", "empty_file"),
                               ("z.warc.gz", gzip.compress(b""), "empty_file")):
        (tmp_path / name).write_bytes(data)
        rows = list(read_input("warc", str(tmp_path / name), {}))
        assert [r["reason"] for r in rows] == [reason]


@pytest.mark.slow  # about 40 s: bench/fuzz_ingest.py's default run
def test_the_fuzz_benchmark_finds_no_crash_hang_or_mismatch():
    """2,000 seeded damaged WARCs (bench/fuzz_ingest.py): the reader never crashes or hangs,
    and every file's outcomes match its independent count."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "bench/fuzz_ingest.py", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    total = result["by_mutation"]["total"]
    assert {k: total[k] for k in ("cases", "crashes", "hangs", "mismatches")} == \
        {"cases": 2000, "crashes": 0, "hangs": 0, "mismatches": 0}, result["findings"]
