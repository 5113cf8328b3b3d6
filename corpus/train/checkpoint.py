"""Checkpoints that are either complete or absent.

    CKPT_DIR/step-00001000/model.pt        full model state (rank 0)
    CKPT_DIR/step-00001000/optimizer.pt    full optimizer state (rank 0)
    CKPT_DIR/step-00001000/trainer.json    step, data cursor, arguments, model config
    CKPT_DIR/step-00001000/rng-00000.pt    random states of each rank (torch, CUDA, numpy, Python)

Everything is written under `.tmp-step-...`, flushed to disk, and the folder is renamed
to its final name last, so a folder named `step-*` is always complete; the latest of them is
where a run resumes. Older checkpoints beyond `keep` are deleted after the rename.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil

import numpy as np
import torch

from corpus.train import parallel

_NAME = re.compile(r"^step-(\d{8})$")


def latest(ckpt_dir: str | None) -> str | None:
    """The newest complete checkpoint in `ckpt_dir`, or None."""
    if not ckpt_dir or not os.path.isdir(ckpt_dir):
        return None
    steps = sorted(n for n in os.listdir(ckpt_dir) if _NAME.match(n))
    return os.path.join(ckpt_dir, steps[-1]) if steps else None


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write(path: str, obj) -> None:
    with open(path, "wb") as f:
        if path.endswith(".json"):
            f.write(json.dumps(obj, indent=2).encode("utf-8"))
        else:
            torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def save(ckpt_dir: str, step: int, model, optimizer, trainer: dict, d: parallel.Dist,
         keep: int = 2) -> str:
    """Write a checkpoint of `step` (collective: every rank calls it)."""
    name = f"step-{step:08d}"
    final, tmp = os.path.join(ckpt_dir, name), os.path.join(ckpt_dir, f".tmp-{name}")
    if d.main:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    parallel.barrier(d)
    model_state, optim_state = parallel.state_dicts(model, optimizer)
    if d.main:
        _write(os.path.join(tmp, "model.pt"), model_state)
        _write(os.path.join(tmp, "optimizer.pt"), optim_state)
        _write(os.path.join(tmp, "trainer.json"), {**trainer, "step": step, "world": d.world})
    _write(os.path.join(tmp, f"rng-{d.rank:05d}.pt"), rng_state())
    parallel.barrier(d)
    if d.main:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        fd = os.open(ckpt_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        for old in sorted(n for n in os.listdir(ckpt_dir) if _NAME.match(n))[:-keep]:
            shutil.rmtree(os.path.join(ckpt_dir, old), ignore_errors=True)
    parallel.barrier(d)
    return final


def load(path: str, model, optimizer, d: parallel.Dist) -> dict:
    """Restore model, optimizer and this rank's random states; returns trainer.json."""
    with open(os.path.join(path, "trainer.json"), encoding="utf-8") as f:
        trainer = json.load(f)
    # memory-mapped: the ranks of a node share the file's pages instead of a copy each
    model_state = torch.load(os.path.join(path, "model.pt"), map_location="cpu", mmap=True)
    optim_state = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", mmap=True)
    parallel.load_state_dicts(model, optimizer, model_state, optim_state)
    rng = os.path.join(path, f"rng-{d.rank:05d}.pt")
    if os.path.exists(rng):
        set_rng_state(torch.load(rng, weights_only=False))
    else:
        print(f"[train] {path} has no random state for rank {d.rank} (the world size changed)")
    return trainer
