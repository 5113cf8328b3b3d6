"""Shared fixtures: where the data is, one local Spark session and one run of the sample
pipeline for the whole suite; tests that need Spark are marked `slow` (`pytest -m "not slow"`
runs the pure-core tier)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample"
SHARED = REPO.parent / "shared" / "data"
SAMPLE_INPUTS = [f"warc:{SAMPLE / 'warc'}", f"books:{SAMPLE / 'books'}", f"forums:{SAMPLE / 'forums'}"]
SLOW_FIXTURES = {"spark"}  # a test that uses one of these (directly or not) is slow


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared():
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    """The user cache (decontamination indexes) of this test session: a folder of its own."""
    os.environ["CORPUS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    return os.environ["CORPUS_CACHE_DIR"]


@pytest.fixture(scope="session")
def spark():
    from corpus.config import load_config
    from corpus.spark import get_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = get_session(load_config()["spark"], "local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_run(spark, tmp_path_factory):
    """The bundled sample through the default stages (ingest, clean, dedup, decontaminate),
    once per session. Read it; a test that changes a run copies it first."""
    from corpus import pipeline
    from corpus.config import load_config

    out = tmp_path_factory.mktemp("sample") / "run"
    pipeline.run_pipeline(str(out), SAMPLE_INPUTS, load_config())
    return out
