"""datatrove side of bench/clean.py; runs inside the reference venv, not the corpus env.

    /work/venvs/datatrove/bin/python bench/_datatrove_clean.py DOCS.jsonl LID_MODEL [WARMUP]

Reads the documents ({"id", "text", ...} per line) into datatrove Documents, then runs
LanguageFilter(languages=["zh", "en"]) -> GopherRepetitionFilter -> GopherQualityFilter ->
C4QualityFilter -> FineWebQualityFilter, each with datatrove's defaults, chained the way
LocalPipelineExecutor chains steps (step(data, rank=0, world_size=1), a generator each),
in this one process.  LanguageFilter's ft176 model is loaded from LID_MODEL (a local
lid.176.ftz/.bin) instead of being downloaded.  Before the timed pass, the model is loaded
and the first WARMUP documents (default 8) go through a throwaway copy of the pipeline, so
lazy loads (spaCy's tokenizer) are not timed; our side is warmed the same way.

Prints one JSON line: documents in/out, per-step counters (datatrove's stats), drops by
filter and reason, wall and CPU seconds of the timed pass (reading the JSONL excluded).
"""

import json
import resource
import sys
import time


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def build(lid_model):
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from fasttext.FastText import _FastText

    lid = LanguageFilter(languages=["zh", "en"])
    # FT176LID.model would fetch lid.176.bin into datatrove's cache; give it the local file.
    lid.model._model = _FastText(lid_model)
    return [lid, GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]


def run(steps, docs):
    data = iter(docs)
    for step in steps:
        data = step(data, rank=0, world_size=1)
    return sum(1 for _ in data)


def main(path, lid_model, warmup=8):
    from datatrove.data import Document

    docs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            docs.append(Document(text=d.pop("text"), id=d.pop("id"), metadata=d))
    warm = [Document(text=d.text, id=d.id, metadata=dict(d.metadata)) for d in docs[:int(warmup)]]
    run(build(lid_model), warm)

    steps = build(lid_model)
    c0, t0 = cpu_seconds(), time.perf_counter()
    out = run(steps, docs)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0

    counters, drops, step_s = {}, {}, {}
    for step in steps:
        stats = step.stats.to_dict()
        counters[step.name] = {k: v["total"] if isinstance(v, dict) else v
                               for k, v in stats["stats"].items() if k not in ("doc_len", "doc_len_tokens")}
        step_s[step.name] = (stats["time_stats"] or {}).get("total", 0) if isinstance(stats["time_stats"], dict) else 0
        for k, v in counters[step.name].items():
            if k.startswith("dropped_"):
                drops[k[len("dropped_"):]] = v
        if counters[step.name].get("dropped") and not any(k.startswith("dropped_") for k in counters[step.name]):
            drops[step.name] = counters[step.name]["dropped"]
    print(json.dumps({"docs_in": len(docs), "docs_out": out, "counters": counters, "drops": drops,
                      "step_s": step_s, "wall_s": wall, "cpu_s": cpu}, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:4])
