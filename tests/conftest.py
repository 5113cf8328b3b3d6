"""Shared fixtures: where the data is, and one local Spark session for the whole suite."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample"
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared():
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def spark():
    from corpus.config import load_config
    from corpus.spark import get_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = get_session(load_config()["spark"], "local[2]")
    yield session
    session.stop()
