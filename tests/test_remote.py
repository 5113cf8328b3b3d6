"""Inputs over HTTP and S3, retries of failing transfers, and a run directory on S3.

Servers on loopback only: `RangeServer`, a small HTTP server with Range support that can fail
on purpose (503, a reset connection, a short body, a stall), and moto's S3 server.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import logging
import os
import re
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from conftest import SAMPLE
from corpus import io as cio
from corpus.ingest import read_input
from corpus.ingest.checks import TALLY, check_tallies, tallied_batches
from corpus.inputs import list_inputs
from corpus.rundir import RunDir

WARC = SAMPLE / "warc" / "whirlwind_CC-MAIN-2024-22.warc.gz"
WET = SAMPLE / "warc" / "whirlwind_CC-MAIN-2024-22.warc.wet.gz"
BOOK = SAMPLE / "books" / "pg84.txt"
FAST = cio.RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05, timeout=0.5)


# --- an HTTP server that serves byte ranges and fails on request ------------------------------

class RangeServer:
    """Serves `files` ({"/name": bytes}) on 127.0.0.1 with HEAD and Range GETs. `faults[path]`
    is a list of faults, one taken per GET of that path: "503", "reset" (RST, nothing sent),
    "short" (Content-Length promised, half the body sent), "partial" (a 206 of
    the first half of the range asked for), "stall" (nothing sent until the
    server stops). `sticky[path]` is a fault every GET gets. `log` records (method, path, range)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.faults, self.sticky, self.log = dict(files), {}, {}, []
        self.released = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                outer.log.append(("HEAD", self.path, None))
                body = outer.files.get(self.path)
                if body is None:
                    return self._status(404)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.log.append(("GET", self.path, rng))
                body = outer.files.get(self.path)
                if body is None:
                    return self._status(404)
                queue = outer.faults.get(self.path) or []
                fault = queue.pop(0) if queue else outer.sticky.get(self.path)
                if fault == "503":
                    return self._status(503)
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "stall":
                    outer.released.wait(30)
                    self.close_connection = True
                    return
                start, end, status = 0, len(body), 200
                if rng:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                    start = int(m.group(1))
                    end = min(int(m.group(2)) + 1 if m.group(2) else len(body), len(body))
                    status = 206
                part = body[start:end]
                if fault == "partial":  # a well-framed answer with fewer bytes than asked
                    part, end = part[: len(part) // 2], start + len(part) // 2
                    self.send_response(206)
                    self.send_header("Content-Length", str(len(part)))
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
                    self.end_headers()
                    self.wfile.write(part)
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
                self.end_headers()
                if fault == "short":
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

            def _status(self, code):
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def gets(self, path: str) -> list:
        return [r for m, p, r in self.log if m == "GET" and p == path]

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server():
    server = RangeServer({"/w.warc.gz": WARC.read_bytes(), "/w.warc.wet.gz": WET.read_bytes(),
                          "/b/pg84.txt": BOOK.read_bytes()})
    yield server
    server.close()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(cio, "RETRY", FAST)
    return FAST


# --- S3 on loopback (moto) ---------------------------------------------------------------------

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def s3():
    """moto's S3 on a free loopback port, found by s3fs through AWS_ENDPOINT_URL (no code
    configures it). Yields an s3fs filesystem; each test makes its own bucket."""
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {**S3_ENV, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    yield fs, env
    s3fs.S3FileSystem.clear_instance_cache()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


def _bucket(fs, name: str) -> str:
    fs.mkdir(name)
    return name


def _paths_gz(entries: list[str]) -> bytes:
    return gzip.compress("".join(e + "\n" for e in entries).encode())


# --- reading over HTTP ------------------------------------------------------------------------

def test_http_read_by_ranges_matches_the_file(http_server):
    url = http_server.url + "/w.warc.gz"
    with cio.open_binary(url) as f:
        assert f.seek(0, io.SEEK_END) == WARC.stat().st_size
        f.seek(100)
        assert f.read(50) == WARC.read_bytes()[100:150]
        f.seek(0)
        assert f.read() == WARC.read_bytes()
    assert http_server.gets("/w.warc.gz") and all(r and r.startswith("bytes=")
                                                   for r in http_server.gets("/w.warc.gz"))
    with cio.open_maybe_compressed(url) as f:
        assert f.read() == gzip.decompress(WARC.read_bytes())


def test_http_transient_failures_are_retried_and_resume_where_they_stopped(http_server, fast_retries,
                                                                         monkeypatch):
    monkeypatch.setattr(cio, "BUFFER_BYTES", 4096)
    monkeypatch.setattr(cio, "MAX_FETCH_BYTES", 4096)
    body = WARC.read_bytes()
    http_server.faults["/w.warc.gz"] = [None, "503", "reset", "short", "partial"]
    with cio.open_binary(http_server.url + "/w.warc.gz") as f:
        assert f.read() == body
    ranges = http_server.gets("/w.warc.gz")
    # block 2 failed three times and came half: tried again, then resumed at byte 4096 + 2048
    assert ranges[:6] == ["bytes=0-4095"] + ["bytes=4096-8191"] * 4 + ["bytes=6144-8191"]
    assert len(ranges) == 6 + (len(body) - 8192 + 4095) // 4096


def test_http_short_transfers_every_time_are_an_error_not_a_short_file(http_server, fast_retries):
    http_server.sticky["/w.warc.gz"] = "short"
    with pytest.raises(cio.RemoteReadError, match="4 tries failed"):
        with cio.open_binary(http_server.url + "/w.warc.gz") as f:
            f.read()
    assert len(http_server.gets("/w.warc.gz")) == FAST.attempts


def test_http_stalled_server_times_out_and_gives_up(http_server):
    http_server.sticky["/w.warc.gz"] = "stall"
    policy = cio.RetryPolicy(attempts=2, backoff=0.01, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(cio.RemoteReadError, match="2 tries failed"):
        with cio.open_binary(http_server.url + "/w.warc.gz", policy) as f:
            f.read()
    assert time.monotonic() - started < 10


def test_http_missing_file_is_not_retried(http_server, fast_retries):
    with pytest.raises(cio.RemoteReadError, match="1 tries failed"):
        cio.open_binary(http_server.url + "/nothing.warc.gz")
    assert len([p for _, p, _ in http_server.log if p == "/nothing.warc.gz"]) <= 2  # HEAD, GET


def test_transient_judges_the_cause():
    import aiohttp

    def caused(outer, inner):
        try:
            raise outer from inner
        except Exception as e:
            return e

    info = aiohttp.RequestInfo(url="http://x", method="GET", headers={}, real_url="http://x")
    status = lambda code: aiohttp.ClientResponseError(info, (), status=code)  # noqa: E731
    assert cio.transient(caused(FileNotFoundError("http://x"), status(503)))
    assert cio.transient(status(429)) and not cio.transient(status(403))
    assert not cio.transient(caused(FileNotFoundError("http://x"), FileNotFoundError("http://x")))
    assert cio.transient(aiohttp.ClientPayloadError("Response payload is not completed"))
    assert cio.transient(ConnectionResetError()) and cio.transient(TimeoutError())
    assert not cio.transient(PermissionError()) and not cio.transient(TypeError("bug"))


def test_failing_input_becomes_one_counted_reader_error(http_server, fast_retries):
    http_server.sticky["/w.warc.gz"] = "503"
    url = http_server.url + "/w.warc.gz"
    rows = list(read_input("warc", url, {}))
    assert [r["reason"] for r in rows] == ["reader_error"]
    assert "RemoteReadError" in rows[0]["detail"] and "503" in rows[0]["detail"]
    tallies = [json.loads(r) for b in tallied_batches("warc", url, {}, 1024)
               for r, why in zip(b.column("detail").to_pylist(), b.column("reason").to_pylist())
               if why == TALLY]
    assert tallies[0]["whole_file"] and tallies[0]["records"] is None
    check_tallies(tallies)  # a counted drop: the stage's checks accept it


def test_input_cut_short_ends_in_a_reader_error(http_server, fast_retries):
    """A file the server never sends whole: the rows read before the cut, then reader_error;
    never a complete-looking file."""
    body = WET.read_bytes()
    http_server.files["/w.warc.wet.gz"] = body
    url = http_server.url + "/w.warc.wet.gz"
    whole = list(read_input("wet", url, {}))
    http_server.sticky["/w.warc.wet.gz"] = "short"
    cut = list(read_input("wet", url, {}))
    assert whole and whole[-1]["reason"] != "reader_error"
    assert cut[-1]["reason"] == "reader_error" and len(cut) <= len(whole)


def test_http_inputs_every_kind_and_cc_listing(http_server, tmp_path):
    base = http_server.url + "/"
    http_server.files["/crawl/warc.paths.gz"] = _paths_gz(["w.warc.gz", "/w.warc.wet.gz"])
    found = list_inputs([f"warc:{base}crawl/warc.paths.gz", f"books:{base}b/pg84.txt"], cc_prefix=base)
    assert [(f.kind, f.uri) for f in found] == [
        ("books", base + "b/pg84.txt"), ("warc", base + "w.warc.gz"), ("warc", base + "w.warc.wet.gz")]
    assert http_server.gets("/b/pg84.txt") == []  # listed by a HEAD, not downloaded
    with pytest.raises(Exception, match="matches no file"):
        list_inputs([f"books:{base}b/missing.txt"])
    local = [list(read_input(k, str(p), {})) for k, p in (("books", BOOK), ("warc", WARC))]
    remote = [list(read_input(k, u, {})) for k, u in (("books", base + "b/pg84.txt"),
                                                       ("warc", base + "w.warc.gz"))]
    for a, b in zip(local, remote):
        assert [r["text"] for r in a] == [r["text"] for r in b] and len(a) > 1


# --- reading from S3 --------------------------------------------------------------------------

def test_s3_inputs_by_s3_and_s3a_uris_and_cc_listing(s3):
    fs, _ = s3
    b = _bucket(fs, "inputs-bucket")
    fs.pipe_file(f"{b}/crawl/a.warc.gz", WARC.read_bytes())
    fs.pipe_file(f"{b}/crawl/b/pg84.txt", BOOK.read_bytes())
    fs.pipe_file(f"{b}/warc.paths.gz", _paths_gz(["crawl/a.warc.gz"]))
    for scheme in ("s3", "s3a"):
        with cio.open_binary(f"{scheme}://{b}/crawl/a.warc.gz") as f:
            assert f.read() == WARC.read_bytes()
        with cio.open_maybe_compressed(f"{scheme}://{b}/crawl/a.warc.gz") as f:
            assert f.read() == gzip.decompress(WARC.read_bytes())
        found = list_inputs([f"warc:{scheme}://{b}/warc.paths.gz"], cc_prefix=f"{scheme}://{b}/")
        assert [f.uri for f in found] == [f"{scheme}://{b}/crawl/a.warc.gz"]
        found = list_inputs([f"books:{scheme}://{b}/crawl/b"])
        assert [f.uri for f in found] == [f"{scheme}://{b}/crawl/b/pg84.txt"]
    rows = list(read_input("warc", f"s3a://{b}/crawl/a.warc.gz", {}))
    assert [r["text"] for r in rows] == [r["text"] for r in read_input("warc", str(WARC), {})]


def test_s3_endpoint_from_fsspec_config_or_service_variable(s3, monkeypatch):
    import fsspec
    import s3fs

    fs, env = s3
    b = _bucket(fs, "config-bucket")
    fs.pipe_file(f"{b}/a.txt", b"abc")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", env["AWS_ENDPOINT_URL"])
    s3fs.S3FileSystem.clear_instance_cache()
    with cio.open_binary(f"s3://{b}/a.txt") as f:
        assert f.read() == b"abc"
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")  # what FSSPEC_S3_ENDPOINT_URL=... sets at import
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": env["AWS_ENDPOINT_URL"]})
    s3fs.S3FileSystem.clear_instance_cache()
    with cio.open_binary(f"s3a://{b}/a.txt") as f:
        assert f.read() == b"abc"
    s3fs.S3FileSystem.clear_instance_cache()


# --- the run directory on S3 ------------------------------------------------------------------

def _stage_some_files(run: RunDir, stage: str) -> None:
    for rel, data in ((run.staging(stage, "docs") + "/part-00000.parquet", b"docs0"),
                      (run.staging(stage, "docs") + "/part-00001.parquet", b"docs1"),
                      (run.staging(stage, "ledger"), b"ledger")):
        with run.fs.open(run.path(rel), "wb") as f:
            f.write(data)


def test_s3_run_dir_commits_by_manifest_and_survives_a_crash_mid_commit(s3, monkeypatch):
    fs, _ = s3
    b = _bucket(fs, "run-bucket")
    run = RunDir(f"s3://{b}/run")
    assert run.object_store and not run.spark_reads
    _stage_some_files(run, "ingest")
    run.commit("ingest", {"kept": 2})
    assert run.committed("ingest")
    assert sorted(fs.find(f"{b}/run")) == [f"{b}/run/ingest/part-00000.parquet",
                                            f"{b}/run/ingest/part-00001.parquet",
                                            f"{b}/run/ledger/ingest.parquet", f"{b}/run/manifest.json"]
    assert fs.cat_file(f"{b}/run/ingest/part-00001.parquet") == b"docs1"

    # a rerun dies while copying its outputs into place
    run.reset("ingest")
    _stage_some_files(run, "ingest")
    copy, calls = run.fs.copy, []

    def dying_copy(src, dst, **kw):
        calls.append(src)
        if len(calls) == 2:
            raise ConnectionResetError("crash")
        return copy(src, dst, **kw)
    monkeypatch.setattr(run.fs, "copy", dying_copy)
    with pytest.raises(ConnectionResetError):
        run.commit("ingest", {"kept": 2})
    monkeypatch.undo()
    assert not RunDir(f"s3://{b}/run").committed("ingest")  # half-copied is not committed
    assert fs.exists(f"{b}/run/ingest/part-00000.parquet")
    run.reset("ingest")  # what the next run does first
    assert fs.find(f"{b}/run") == [f"{b}/run/manifest.json"]


def test_local_write_text_still_renames(tmp_path, monkeypatch):
    run = RunDir(str(tmp_path / "run"))
    assert not run.object_store and run.spark_reads
    moved = []
    mv = run.fs.mv
    monkeypatch.setattr(run.fs, "mv", lambda a, b, **kw: (moved.append((a, b)), mv(a, b, **kw)))
    run.write_text("manifest.json", "{}")
    assert moved == [(run.path("manifest.json.tmp"), run.path("manifest.json"))]
    assert Path(run.path("manifest.json")).read_text() == "{}"


# --- the pipeline: inputs over HTTP and S3, run directory on S3 ------------------------------

@pytest.mark.slow
def test_pipeline_on_s3_and_http_equals_local_run_dir(spark, s3, http_server, tmp_path):
    """ingest and clean with one WARC over HTTP (served with one 503 and one reset, retried) and
    one from S3, into a run directory on S3 and into a local one: the same committed rows."""
    from corpus.config import load_config
    from corpus.digest import run_digests
    from corpus.pipeline import run_pipeline

    fs, env = s3
    b = _bucket(fs, "pipeline-bucket")
    fs.pipe_file(f"{b}/in/a.warc.gz", (SAMPLE / "warc" / "dolma_wget_sample-0000.warc.gz").read_bytes())
    for k, v in env.items():  # what the executors' Python workers are started with
        spark.sparkContext.environment[k] = v
    http_server.faults["/w.warc.gz"] = ["503", "reset"]
    inputs = [f"warc:{http_server.url}/w.warc.gz", f"warc:s3a://{b}/in/a.warc.gz"]
    cfg = load_config()
    local = tmp_path / "run"
    run_pipeline(str(local), inputs, cfg, stages=["ingest", "clean"], echo=False)
    run_pipeline(f"s3://{b}/run", inputs, cfg, stages=["ingest", "clean"], echo=False)
    remote = RunDir(f"s3://{b}/run")
    assert sorted(remote.manifest()["stages"]) == ["clean", "ingest"]
    want = run_digests(RunDir(str(local)))
    assert set(want) >= {"ingest", "clean", "dropped/clean", "ledger/clean.parquet"}
    assert run_digests(remote) == want
    import pyarrow.parquet as pq

    ingested = pq.read_table(local / "ingest").column("locator").to_pylist()
    assert {u.split("@")[0] for u in ingested} == {f"{http_server.url}/w.warc.gz", f"s3a://{b}/in/a.warc.gz"}
    reasons = set(pq.read_table(local / "dropped" / "ingest").column("reason").to_pylist())
    assert "reader_error" not in reasons  # every input was read, the retried one too
    kept = remote.manifest()["stages"]["clean"]["kept"]
    assert kept == json.loads((local / "manifest.json").read_text())["stages"]["clean"]["kept"] > 0
    assert not fs.find(f"{b}/run/_staging")
