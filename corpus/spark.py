"""Spark session factory and the bridge from library functions to DataFrames."""

from __future__ import annotations

import atexit
import os
import sys
import traceback
import warnings
from typing import Callable, Mapping, NoReturn

import pyarrow as pa


LOG4J2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")


def get_session(spark_cfg: Mapping, master: str | None = None):
    """A SparkSession. An explicit `master` wins; under spark-submit its `--master` is kept;
    otherwise the configured master (local mode by default). In local mode, unless configured,
    shuffles get 4 partitions per core (Spark's default 200 is sized for clusters: here each
    tiny task costs more than its data), and the JVM gets `spark.local_java_options` (by default
    C2 compiles after 10x the JDK's counts: in a 1-minute run C2 burned ~20 CPU-seconds compiling
    code that then ran for seconds, on the cores the Python workers need; bench/README.md)."""
    from pyspark.sql import SparkSession

    # pandas 3 draws a FutureWarning from every Arrow UDF; the stages use Arrow, not pandas
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                            category=FutureWarning)
    if not master and not _launched_by_spark_submit():
        master = spark_cfg.get("master") or "local[*]"
    if master and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(spark_cfg.get("app_name", "corpus"))
    if master:
        builder = builder.master(master)
    conf = dict(spark_cfg.get("conf") or {})
    if master and master.startswith("local") and "spark.driver.extraJavaOptions" not in conf:
        conf["spark.driver.extraJavaOptions"] = " ".join(  # no start-up chatter; local_java_options
            [f"-Dlog4j2.configurationFile={LOG4J2}", *(spark_cfg.get("local_java_options") or "").split()])
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


def arrow_schema(struct) -> pa.Schema:
    """The Arrow schema of a Spark StructType, as `mapInArrow` batches carry it: timestamps
    in UTC (the session's time zone, rules/pipeline.yaml), plain (not large) strings."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(struct, timezone="UTC")


# --- leaving the process ---------------------------------------------------------------------

def run_and_exit(command: Callable[[], int]) -> NoReturn:
    """Run a command-line entry (`corpus`, jobs/*.py) and leave the process with its status:
    0, 2 for a user error, 1 for an uncaught exception (traceback printed), 130 on Ctrl-C, and
    argparse's own status for usage errors and --help. See `exit_process` for why."""
    try:
        status = command()
    except SystemExit as e:  # argparse, or sys.exit() inside the command
        status = _system_exit_status(e)
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    exit_process(status)


def exit_process(status: int) -> NoReturn:
    """Leave the driver process with `status`, in order, after everything is committed: stop
    the Spark session (if one was started), run the atexit handlers, flush stdout and stderr,
    then `os._exit` without interpreter finalization.

    Why: pyarrow finishes the tail of a read (its futures, the Python buffers of a file read
    through fsspec) on its own C++ pool threads. When such a thread releases a Python buffer
    after Py_FinalizeEx has begun, CPython ends the thread with pthread_exit while it waits for
    the GIL; that unwinds through a noexcept C++ destructor and the C++ runtime aborts with
    `terminate called without an active exception` (exit 134) after a successful run
    (issue 13). No interpreter finalization, no such race; the status is the real one."""
    try:
        stop_session()
    except Exception as e:  # the work is committed: say so, keep the status
        print(f"corpus: warning: stopping Spark failed: {e!r}", file=sys.stderr)
    try:
        atexit._run_exitfuncs()  # what a normal exit runs first (py4j, pyarrow.fs, logging)
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)


def stop_session() -> None:
    """Stop the driver's SparkSession/SparkContext, if this process started one."""
    if "pyspark" not in sys.modules:  # never started: do not import it (and a JVM) to stop it
        return
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    session = SparkSession._instantiatedSession
    if session is not None:
        session.stop()
    elif SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()


def _system_exit_status(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1
