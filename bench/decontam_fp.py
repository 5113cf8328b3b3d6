"""Every benchmark hit in the real books, news, forum and web text of ../shared/data, for a
person to judge: real overlap (the evaluation item quotes the document's source, a famous
line, an idiom) or a false positive (unrelated texts sharing n tokens).

    python bench/decontam_fp.py [--shared DIR] [--json]

Documents are read with corpus.ingest.read_input (as the ingest stage reads them) and go
through the stage's own batch functions with the default registry and settings. One line per
(document, benchmark item): where, which item, the matched text with context, and the item.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

from bench.decontam import shared_documents  # noqa: E402


def main() -> None:
    import numpy as np

    from corpus.config import load_config
    from corpus.decontam.match import find_matches
    from corpus.decontam.registry import load_registry
    from corpus.decontam.stage import prepare_index, settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    s = settings(load_config()["decontaminate"])
    index, item_keys, _ = prepare_index(s)
    reg = load_registry(s.registry)
    item_text = {i.item_id: i.text for b in reg.benchmarks for i in reg.items(b.name)}
    docs = shared_documents(args.shared)
    texts = [t for _, t in docs]
    m = find_matches(texts, index)
    owners = item_keys.owners(np.unique(m.key))
    hits: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for doc, key, start, end in zip(m.doc.tolist(), m.key.tolist(), m.start.tolist(), m.end.tolist()):
        for item in owners[key]:
            hits.setdefault((doc, item), []).append((start, end))
    out = []
    for (doc, item), spans in sorted(hits.items()):
        start, end = spans[0][0], max(e for _, e in spans)
        text = texts[doc]
        out.append({"locator": docs[doc][0], "benchmark": item_keys.benchmark[item], "item": item_keys.item_id[item],
                    "windows": len(spans), "matched": text[start:end],
                    "context": text[max(start - 40, 0):start] + "【" + text[start:end] + "】" + text[end:end + 40],
                    "item_text": item_text[item_keys.item_id[item]][:300]})
    summary = {"documents": len(texts), "characters": sum(map(len, texts)),
               "documents_hit": len({d for d, _ in hits}), "items_hit": len({i for _, i in hits})}
    if args.json:
        print(json.dumps({"summary": summary, "hits": out}, ensure_ascii=False, indent=2))
        return
    print(f"{summary['documents']:,} documents, {summary['characters']:,} characters: "
          f"{summary['documents_hit']} documents hit, {summary['items_hit']} items")
    for h in out:
        print(f"\n{h['locator']}  {h['benchmark']} {h['item']}  ({h['windows']} matching windows)")
        print(f"  doc:  {h['context']!r}")
        print(f"  item: {h['item_text']!r}")


if __name__ == "__main__":
    main()
