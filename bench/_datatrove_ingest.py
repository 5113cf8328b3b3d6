"""datatrove side of bench/ingest.py; runs inside the reference venv, not the corpus env.

    /work/venvs/datatrove/bin/python bench/_datatrove_ingest.py WARC LOGDIR

WarcReader -> Trafilatura with datatrove's defaults, LocalPipelineExecutor with 1 task and
1 worker.  Prints one JSON line: documents read/out, per-step counters, wall and CPU seconds
of the pipeline run (imports excluded; CPU includes the extractor's sandbox subprocess).
"""

import json
import os
import resource
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import WarcReader


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sandbox process, once reaped
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def main(warc, logdir):
    executor = LocalPipelineExecutor(
        pipeline=[
            WarcReader(os.path.dirname(os.path.abspath(warc)), glob_pattern=os.path.basename(warc)),
            Trafilatura(),
        ],
        tasks=1,
        workers=1,
        logging_dir=logdir,
        skip_completed=False,
    )
    own0, kids0 = cpu_seconds()
    t0 = time.perf_counter()
    executor.run()
    wall = time.perf_counter() - t0
    own1, kids1 = cpu_seconds()
    with open(os.path.join(logdir, "stats.json")) as fh:
        steps = json.load(fh)
    counters = {s["name"]: {k: v["total"] if isinstance(v, dict) else v
                            for k, v in s["stats"].items() if k != "doc_len"} for s in steps}
    reader = next(v for k, v in counters.items() if "Warc" in k)
    extractor = next(v for k, v in counters.items() if "Trafilatura" in k)
    print(json.dumps({
        "docs_in": reader.get("documents", 0),
        "docs_out": extractor.get("forwarded", 0),
        "counters": counters,
        "wall_s": wall,
        "cpu_s": (own1 - own0) + (kids1 - kids0),
        "cpu_main_s": own1 - own0,
        "cpu_sandbox_s": kids1 - kids0,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:3])
