"""Spark session factory and the bridge from library functions to DataFrames."""

from __future__ import annotations

import os
import sys
from typing import Mapping

import pyarrow as pa


def get_session(spark_cfg: Mapping, master: str | None = None):
    """A SparkSession. An explicit `master` wins; under spark-submit its `--master` is kept;
    otherwise the configured master (local mode by default). In local mode, unless configured,
    shuffles get 4 partitions per core (Spark's default 200 is sized for clusters: here each
    tiny task costs more than its data)."""
    from pyspark.sql import SparkSession

    if not master and not _launched_by_spark_submit():
        master = spark_cfg.get("master") or "local[*]"
    if master and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(spark_cfg.get("app_name", "corpus"))
    if master:
        builder = builder.master(master)
    conf = dict(spark_cfg.get("conf") or {})
    if master and master.startswith("local"):
        conf.setdefault("spark.sql.shuffle.partitions", str(4 * _local_cores(master)))
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(spark_cfg.get("log_level", "WARN"))
    return spark


def _local_cores(master: str) -> int:
    """Cores of a local[N] / local[*] / local[N,F] master."""
    inner = master[master.find("[") + 1:master.find("]")] if "[" in master else "1"
    inner = inner.split(",")[0]
    return (os.cpu_count() or 1) if inner == "*" else max(1, int(inner))


def _launched_by_spark_submit() -> bool:
    # spark-submit sets the master itself; a master set here would override --master.
    return "spark.master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "") or bool(
        os.environ.get("SPARK_ENV_LOADED")
    )


def spark_schema(schema: pa.Schema):
    """The Spark StructType of an Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
