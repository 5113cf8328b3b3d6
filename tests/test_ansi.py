"""Spark 4 runs SQL in ANSI mode: overflowing arithmetic and bad casts raise instead of
wrapping or giving null. Each column expression the stages build is checked here at its
extremes, under the session's own (ANSI) settings, against a reference computed in Python.

Decisions (docs/architecture.md, "Spark 4 and ANSI mode"):
- SimHash table keys (corpus.dedup.spark_dedup): shifts, AND and OR on longs only; they cannot
  overflow, and fingerprints with the top bit set (negative longs) give numpy's keys.
- Content keys and token-export keys: xxhash64 gives a long; no arithmetic follows except
  `pmod(key, shards)`, which is never negative and fits an int, so its cast cannot fail.
- `meta['topic']` for a document without that key is null, not an error.
- Sums of sizes and tokens (balance, tokens) stay long sums: ANSI turns an overflow into an
  error instead of a wrapped count, which is what we want.
"""

import pytest

pytestmark = pytest.mark.slow

EXTREMES = [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x8000_0000_0000_0001, 0xDEAD_BEEF_F00D_CAFE]


def signed(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


def test_ansi_is_on(spark):
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"


def test_simhash_table_keys_at_the_extremes(spark):
    from corpus.dedup.spark_dedup import table_keys_df
    from corpus.dedup.tables import choose_layout

    layout = choose_layout(4, 1_000_000)
    df = spark.createDataFrame([(f"d{i}", signed(fp)) for i, fp in enumerate(EXTREMES)], "id string, simhash long")
    got = {(r.id, r.table): r.key & ((1 << 64) - 1) for r in table_keys_df(df, layout).collect()}
    want = layout.keys(EXTREMES)
    assert got == {(f"d{i}", t): int(want[t, i]) for t in range(layout.n_tables) for i in range(len(EXTREMES))}


def test_pmod_of_hash_keys_never_fails(spark):
    from pyspark.sql import functions as F

    keys = [-(1 << 63), -1, 0, (1 << 63) - 1]
    df = spark.createDataFrame([(k,) for k in keys], "key long")
    got = [r.shard for r in df.select(F.pmod("key", F.lit(7)).cast("int").alias("shard")).collect()]
    assert got == [k % 7 for k in keys]


def test_missing_map_key_is_null_and_long_sums_raise_on_overflow(spark):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F

    df = spark.createDataFrame([({"topic": "sports"},), ({},)], "meta map<string,string>")
    assert [r.t for r in df.select(F.col("meta").getItem("topic").alias("t")).collect()] == ["sports", None]
    big = spark.createDataFrame([((1 << 62),), ((1 << 62),)], "size long")
    with pytest.raises(ArithmeticException):
        big.agg(F.sum("size")).collect()
    assert big.limit(1).agg(F.sum("size")).first()[0] == 1 << 62
