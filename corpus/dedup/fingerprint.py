"""Per-document dedup keys, as a function over Arrow batches: the exact-text hash, the 64-bit
SimHash (stored as a signed long, Spark's type; null for texts too short to fingerprint, which
only exact dedup then judges) and the length used to pick representatives."""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa
import xxhash

from corpus.dedup.simhash import simhash_batch

_SPACE = re.compile(r"\s+")
KEY_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("url", pa.string()),
    pa.field("text_hash", pa.string()),
    pa.field("simhash", pa.int64()),
    pa.field("quality_score", pa.float32()),
    pa.field("length", pa.int64()),
    pa.field("content_key", pa.int64()),
])


def exact_key(text: str) -> str:
    """Hash of the text with case and whitespace differences removed (128-bit, hex)."""
    return xxhash.xxh3_128_hexdigest(_SPACE.sub("", text).lower().encode("utf-8", "surrogatepass"))


class Fingerprinter:
    """SimHash features from the text, traditional characters mapped to simplified first when
    `t2s` is set (so a traditional copy of a simplified page is a near-duplicate)."""

    def __init__(self, cfg: Mapping):
        self.shingle = int(cfg.get("shingle", 2))
        self.min_features = int(cfg.get("min_features", 16))
        self.weights = str(cfg.get("weights", "binary"))
        self._t2s = None
        if cfg.get("t2s", True):
            import opencc

            self._t2s = opencc.OpenCC("t2s")

    def batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(uint64 fingerprints, has a fingerprint) of the texts, all in one numpy pass."""
        if self._t2s is not None:
            texts = [self._t2s.convert(t) for t in texts]
        return simhash_batch(texts, self.shingle, self.min_features, self.weights)

    def __call__(self, text: str) -> int | None:
        fps, valid = self.batch([text])
        return int(fps[0]) if valid[0] else None


def dedup_keys(batches: Iterable[pa.RecordBatch], cfg: Mapping) -> Iterator[pa.RecordBatch]:
    """Batches of (id, url, text, quality_score, content_key) as KEY_SCHEMA rows: the text
    replaced by its exact-text hash, SimHash and length (the narrow table every dedup decision
    is made on); content_key passes through."""
    fp = Fingerprinter(cfg)
    for batch in batches:
        texts = batch.column("text").to_pylist()
        fps, valid = fp.batch(texts)
        yield pa.RecordBatch.from_arrays(
            [batch.column("id"), batch.column("url"),
             pa.array([exact_key(t) for t in texts], pa.string()),
             pa.array(fps.view(np.int64), pa.int64(), mask=~valid),
             batch.column("quality_score").cast(pa.float32()),
             pa.array([len(t) for t in texts], pa.int64()), batch.column("content_key")],
            schema=KEY_SCHEMA)
