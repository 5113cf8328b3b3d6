"""Batches from token shards, at a position that a checkpoint can restore exactly.

The shards are one array of sequences (corpus.tokens.shards.TokenShards; the export already
shuffled documents with its seed). A cursor counts the sequences the whole job has read:
each micro-step takes `world * batch_size` rows from the cursor on, rank r the r-th block of
`batch_size`, wrapping around at the end (a new epoch). The cursor is all a checkpoint needs,
and it stays valid when a run resumes with another number of GPUs: the rows of a step are the same
`world * batch_size` rows whatever the world, as long as `world * batch_size` is unchanged
(2 processes of 4 sequences read what 1 of 8 reads); with another product the run goes on
from the same row, on another sequence of batches. `split="validation"` reads the held-out
documents of the export (tokens.validation_fraction).
"""

from __future__ import annotations

import numpy as np
import torch

from corpus.tokens.shards import TokenShards


class Batches:
    def __init__(self, tokens_dir: str, batch_size: int, seq_len: int, rank: int = 0,
                 world: int = 1, cursor: int = 0, split: str = "train"):
        self.shards = TokenShards(tokens_dir, split)
        if seq_len + 1 > self.shards.seq_tokens:
            raise ValueError(f"--seq-len {seq_len} is longer than the shards' {self.shards.seq_tokens - 1}")
        self.batch_size, self.seq_len, self.rank, self.world = batch_size, seq_len, rank, world
        self.cursor = cursor

    def next(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of this rank's next micro-batch, int64 on `device`."""
        start = self.cursor + self.rank * self.batch_size
        rows = self.shards.rows(start, self.batch_size)[:, :self.seq_len + 1]
        self.cursor += self.world * self.batch_size
        batch = torch.from_numpy(rows.astype(np.int64))
        if device.type == "cuda":
            batch = batch.pin_memory().to(device, non_blocking=True)
        return batch[:, :-1], batch[:, 1:]
