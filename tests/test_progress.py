"""Live progress on stderr: plain lines for logs, a redrawn line on a terminal, JSON lines."""

import io
import json

from corpus.progress import Progress

ENTRY = {"seconds": 2.0, "docs_in": 1000, "kept": 900, "dropped": 100}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_json_and_live_lines():
    out = io.StringIO()
    p = Progress("auto", stream=out)  # not a terminal: plain
    p.skip("ingest")
    p.start("clean", "not committed yet")
    p.commit("clean", ENTRY)
    assert out.getvalue().splitlines() == [
        "[corpus] ingest: committed already, skipped (--force reruns it)",
        "[corpus] clean: running (not committed yet)",
        "[corpus] clean: committed in 2.0 s: 1,000 in, 900 kept, 100 dropped, 500 docs/s"]
    assert "\r" not in out.getvalue()

    out = io.StringIO()
    p = Progress("json", stream=out)
    p.start("clean", "--force")
    p.commit("clean", ENTRY)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events == [{"event": "start", "stage": "clean", "why": "--force"},
                      {"event": "commit", "stage": "clean", "seconds": 2.0, "in": 1000, "kept": 900,
                       "dropped": 100, "docs_per_s": 500.0}]

    term = Terminal()
    p = Progress("auto", stream=term)
    assert p.mode == "live" and p.interval == 1.0
    p.start("dedup", "x")
    assert term.getvalue().startswith("\r\x1b[2K[corpus] dedup: running (x)\n")

    quiet = io.StringIO()
    p = Progress("off", stream=quiet)
    p.start("dedup", "x")
    p.commit("dedup", ENTRY)
    assert quiet.getvalue() == "" and p.counters() == (None, None)


def test_progress_of_a_spark_run(spark, tmp_path):
    from corpus import pipeline
    from corpus.config import load_config

    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": f"第{i}篇文档。" * 30}, ensure_ascii=False) + "\n" for i in range(300)))
    out = io.StringIO()
    progress = Progress("json", stream=out, interval=0.05)
    pipeline.run_pipeline(str(tmp_path / "run"), [f"jsonl:{src}"], load_config(), stages=["ingest"],
                          progress=progress)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0] == {"event": "start", "stage": "ingest", "why": "not committed yet"}
    assert events[-1]["event"] == "commit" and events[-1]["in"] == 300 and events[-1]["kept"] == 300
    updates = [e for e in events if e["event"] == "progress"]
    assert updates and all(e["stage"] == "ingest" and e["tasks_done"] <= e["tasks"] for e in updates)
    assert progress.docs.value == 300  # counted by the writing tasks
