"""Live progress of a run, on stderr: a line when a stage starts, updates while it runs (Spark
tasks done of all, documents and characters of text done so far, docs/s, an ETA) and a one-line
summary when it commits.

Modes: `auto` (a live line redrawn in place on a terminal, else `plain`), `plain` (one line
per update, at most one every `interval` seconds and only when something moved: log files
get no carriage returns), `json` (one JSON object per line, for schedulers: events `start`,
`progress`, `commit`, `skip`) and `off`. Documents are counted by Spark accumulators that the
writing tasks add to as they finish (corpus.pipeline), tasks by Spark's status tracker.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Mapping, TextIO

MODES = ("auto", "plain", "json", "off")


class Progress:
    def __init__(self, mode: str = "auto", stream: TextIO | None = None, interval: float | None = None):
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}: one of {', '.join(MODES)}")
        self.stream = stream or sys.stderr
        live = mode == "auto" and getattr(self.stream, "isatty", lambda: False)()
        self.mode = "live" if live else ("plain" if mode == "auto" else mode)
        self.interval = interval if interval is not None else (1.0 if live else 10.0)
        self.spark = None
        self.stage: str | None = None
        self.started = 0.0
        self.docs = self.chars = None  # accumulators of the stage's writing tasks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = None

    # --- events --------------------------------------------------------------------------
    def attach(self, spark) -> None:
        """The session whose jobs are watched."""
        self.spark = spark

    def start(self, stage: str, why: str) -> None:
        self.stage, self.started, self._last = stage, time.monotonic(), None
        self.docs = self.chars = None
        self._emit({"event": "start", "stage": stage, "why": why}, f"{stage}: running ({why})")
        if self.mode != "off" and self.spark is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="corpus-progress", daemon=True)
            self._thread.start()

    def counters(self):
        """(documents, characters) accumulators for the stage's writing tasks, or (None, None)."""
        if self.mode == "off" or self.spark is None:
            return None, None
        sc = self.spark.sparkContext
        self.docs, self.chars = sc.accumulator(0), sc.accumulator(0)
        return self.docs, self.chars

    def commit(self, stage: str, entry: Mapping) -> None:
        """The summary of a committed stage (its manifest entry)."""
        self._halt()
        seconds = float(entry.get("seconds") or time.monotonic() - self.started)
        docs_in = entry.get("docs_in")
        record = {"event": "commit", "stage": stage, "seconds": round(seconds, 1), "in": docs_in,
                  "kept": entry.get("kept"), "dropped": entry.get("dropped"),
                  "docs_per_s": round(docs_in / seconds, 1) if docs_in and seconds else None}
        if docs_in is None:  # an artefact stage
            text = f"{stage}: committed in {seconds:.1f} s"
        else:
            kept, dropped = entry.get("kept") or 0, entry.get("dropped") or 0
            rows = " rows (copies included)" if kept + dropped != docs_in else ""
            text = (f"{stage}: committed in {seconds:.1f} s: {docs_in:,} in, {kept:,}{rows} kept, "
                    f"{dropped:,} dropped, {record['docs_per_s'] or 0:,.0f} docs/s")
        self._emit(record, text)

    def stop(self) -> None:
        """Stop watching (the stage ended, committed or not)."""
        self._halt()

    def skip(self, stage: str) -> None:
        self._emit({"event": "skip", "stage": stage}, f"{stage}: committed already, skipped (--force reruns it)")

    # --- the watcher ---------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._update()
            except Exception:  # noqa: BLE001 - a progress line never fails a run
                pass

    def _update(self) -> None:
        tracker = self.spark.sparkContext.statusTracker()
        done = total = 0
        for job in tracker.getActiveJobsIds():
            info = tracker.getJobInfo(job)
            for sid in (info.stageIds if info else []):
                stage = tracker.getStageInfo(sid)
                if stage:
                    done, total = done + stage.numCompletedTasks, total + stage.numTasks
        docs = self.docs.value if self.docs is not None else 0
        mchars = (self.chars.value if self.chars is not None else 0) / 1e6
        now = (done, total, docs)
        if now == self._last and self.mode != "live":
            return
        self._last = now
        elapsed = time.monotonic() - self.started
        rate = docs / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (total - done) / done if done and total > done else None
        record = {"event": "progress", "stage": self.stage, "tasks_done": done, "tasks": total,
                  "docs": docs, "text_mchars": round(mchars, 2), "docs_per_s": round(rate, 1),
                  "elapsed_s": round(elapsed, 1), "eta_s": round(eta, 1) if eta is not None else None}
        tasks = f"{done}/{total} tasks" if total else "between jobs"
        text = (f"{self.stage}: {tasks}, {docs:,} docs ({mchars:,.1f} M characters) done, {rate:,.0f} docs/s, "
                f"{elapsed:,.0f} s" + (f", ETA {eta:,.0f} s (this job)" if eta is not None else ""))
        self._emit(record, text, redraw=True)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _emit(self, record: dict, text: str, redraw: bool = False) -> None:
        if self.mode == "off":
            return
        if self.mode == "json":
            line = json.dumps(record, ensure_ascii=False)
        elif self.mode == "live":
            line = "\r\x1b[2K[corpus] " + text
            self.stream.write(line if redraw else line + "\n")
            self.stream.flush()
            return
        else:
            line = "[corpus] " + text
        self.stream.write(line + "\n")
        self.stream.flush()
