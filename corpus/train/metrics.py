"""Training metrics: tokens per second, model FLOPs utilisation, memory; JSON lines."""

from __future__ import annotations

import json
import os
import resource
import sys

import torch

H100_BF16_PEAK = 989e12  # dense bf16 FLOP/s of one H100/H200 SXM


def memory_gib(device: torch.device) -> float:
    """Peak memory so far: allocated CUDA memory, or the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return rss_kib / 2**20


def mfu(flops_per_token: float, tokens_per_s: float, peak_flops: float, devices: int) -> float:
    """Model FLOPs utilisation against `peak_flops` per device (meaningful on GPUs only: the
    trainer reports None, "n/a", on CPU)."""
    return flops_per_token * tokens_per_s / (peak_flops * devices)


class MetricsLog:
    """Appends one JSON object per line to `path` (when given) and prints a summary line;
    does nothing unless `enabled` (rank 0 writes for all)."""

    def __init__(self, path: str | None, enabled: bool = True):
        self.enabled = enabled
        path = path if enabled else None
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self.file = open(path, "a", encoding="utf-8") if path else None

    def _append(self, row: dict) -> None:
        if self.file:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()

    def write(self, row: dict) -> None:
        """A training row (step, loss, lr, tokens/s, mfu: None where there is no peak to
        compare with, i.e. on CPU, shown as n/a)."""
        if not self.enabled:
            return
        self._append(row)
        mfu_text = "n/a" if row.get("mfu") is None else f"{row['mfu']:.3f}"
        print(f"[train] step {row['step']:>7} | loss {row['loss']:.4f} | lr {row['lr']:.2e} | "
              f"{row['tokens_per_s']:,.0f} tok/s | MFU {mfu_text} | "
              f"mem {row['mem_gib']:.1f} GiB", file=sys.stderr, flush=True)

    def write_eval(self, row: dict) -> None:
        """A validation row: step, val_loss, val_ppl, best_step, best_val_loss."""
        if not self.enabled:
            return
        self._append(row)
        print(f"[train] step {row['step']:>7} | validation loss {row['val_loss']:.4f} | perplexity "
              f"{row['val_ppl']:.2f} | best {row['best_val_loss']:.4f} at step {row['best_step']}",
              file=sys.stderr, flush=True)

    def write_info(self, row: dict) -> None:
        """A row that is no measurement (the run's start: preset, mix, validation)."""
        if self.enabled:
            self._append(row)

    def close(self) -> None:
        if self.file:
            self.file.close()
