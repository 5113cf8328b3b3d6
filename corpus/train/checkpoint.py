"""Checkpoints that are either complete or absent.

    CKPT_DIR/step-00001000/model.pt        full model state (rank 0; without --fsdp)
    CKPT_DIR/step-00001000/optimizer.pt    full optimizer state (rank 0; without --fsdp)
    CKPT_DIR/step-00001000/dcp/            with --fsdp: model and optimizer shards, one file per
                                           rank, torch.distributed.checkpoint (no gather)
    CKPT_DIR/step-00001000/trainer.json    step, data cursor, arguments, model config, best
                                           validation loss
    CKPT_DIR/step-00001000/rng-00000.pt    random states of each rank (torch, CUDA, numpy, Python)

Everything is written under `.tmp-step-...`, flushed to disk, and the folder is renamed
to its final name last, so a folder named `step-*` is always complete; the latest of them is
where a run resumes. Older checkpoints beyond `keep` are deleted after the rename. A sharded
checkpoint resumes with any number of processes, with or without --fsdp (the reader
reshards); a full one too.
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
         keep: int = 2, sharded: bool = False, asynchronous: bool = False) -> str:
    """Write a checkpoint of `step` (collective: every rank calls it). `sharded`: each rank
    writes its own shards with torch.distributed.checkpoint, nothing is gathered;
    `asynchronous` (sharded only): the shards are copied to CPU memory and written by a
    background thread while training goes on, and the folder is committed (renamed) at the
    next checkpoint or at the end of the run (`finish_pending`)."""
    finish_pending(d)
    name = f"step-{step:08d}"
    final, tmp = os.path.join(ckpt_dir, name), os.path.join(ckpt_dir, f".tmp-{name}")
    if d.main:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    parallel.barrier(d)
    if d.main:
        _write(os.path.join(tmp, "trainer.json"),
               {**trainer, "step": step, "world": d.world, "format": "dcp" if sharded else "full"})
    _write(os.path.join(tmp, f"rng-{d.rank:05d}.pt"), rng_state())
    if sharded:
        import torch.distributed.checkpoint as dcp

        model_state, optim_state = parallel.sharded_state_dicts(model, optimizer)
        state = {"model": model_state, "optimizer": optim_state}
        writer = dcp.FileSystemWriter(os.path.join(tmp, DCP_DIR), sync_files=True)
        if asynchronous:
            # the background writes' collectives go over a group of their own (gloo), never
            # interleaved with the training's collectives on the default group
            future = dcp.async_save(state, storage_writer=writer, process_group=_checkpoint_group())
            _PENDING.append((future, tmp, final, ckpt_dir, keep))
            return final
        dcp.save(state, storage_writer=writer)
    else:
        model_state, optim_state = parallel.state_dicts(model, optimizer)
        if d.main:
            _write(os.path.join(tmp, "model.pt"), model_state)
            _write(os.path.join(tmp, "optimizer.pt"), optim_state)
    _commit(tmp, final, ckpt_dir, keep, d)
    return final


DCP_DIR = "dcp"
_PENDING: list = []  # (future, tmp, final, ckpt_dir, keep) of an asynchronous save
_GROUP: list = []


def _checkpoint_group():
    """A gloo process group for asynchronous checkpoints (created collectively, once)."""
    import torch.distributed as dist

    if not _GROUP:
        _GROUP.append(dist.new_group(backend="gloo"))
    return _GROUP[0]


def finish_pending(d: parallel.Dist) -> None:
    """Wait for an asynchronous save to be written, then commit it (collective)."""
    while _PENDING:
        future, tmp, final, ckpt_dir, keep = _PENDING.pop()
        future.result()
        _commit(tmp, final, ckpt_dir, keep, d)


def _commit(tmp: str, final: str, ckpt_dir: str, keep: int, d: parallel.Dist) -> None:
    """Every rank has written its part: rename the folder, fsync the parent, drop old ones."""
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


def read_trainer(path: str) -> dict:
    with open(os.path.join(path, "trainer.json"), encoding="utf-8") as f:
        return json.load(f)


def check_compatible(path: str, cfg, args) -> None:
    """A TrainError unless the checkpoint at `path` holds the model that `cfg` describes."""
    from dataclasses import asdict

    from corpus.train import TrainError

    saved = read_trainer(path)
    was, now = saved.get("model", {}), asdict(cfg)
    diff = [f"{k} {was.get(k)} vs {now[k]}" for k in now if was.get(k) != now[k]]
    if diff:
        preset = saved.get("args", {}).get("preset", "?")
        raise TrainError(f"{path} holds a {preset} model ({', '.join(diff)}), not --preset {args.preset}"
                         f"{' with these shards' if preset == args.preset else ''}: resume with "
                         f"--preset {preset} (and the same --seq-len and shards), or start the new "
                         "model in another --ckpt-dir")


def load(path: str, model, optimizer, d: parallel.Dist) -> dict:
    """Restore model, optimizer and this rank's random states; returns trainer.json. A sharded
    checkpoint is read by any number of processes (torch.distributed.checkpoint reshards)."""
    trainer = read_trainer(path)
    if os.path.isdir(os.path.join(path, DCP_DIR)):
        import torch.distributed.checkpoint as dcp

        model_state, optim_state = parallel.sharded_state_dicts(model, optimizer)
        state = {"model": model_state, "optimizer": optim_state}
        dcp.load(state, checkpoint_id=os.path.join(path, DCP_DIR))
        parallel.set_sharded_state_dicts(model, optimizer, state["model"], state["optimizer"])
    else:
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


def resolve(path: str) -> str:
    """A checkpoint folder (step-*) or a --ckpt-dir (its latest checkpoint)."""
    from corpus.train import TrainError

    if os.path.isfile(os.path.join(path, "trainer.json")):
        return path
    found = latest(path)
    if not found:
        raise TrainError(f"{path}: no checkpoint (a step-NNNNNNNN folder or a --ckpt-dir holding one)")
    return found


def load_model(path: str, device: str = "cpu"):
    """The model of a checkpoint (full or sharded) in one process, for generation and export:
    (Transformer in eval mode, trainer.json)."""
    from corpus.train.model import ModelConfig, Transformer

    path = resolve(path)
    trainer = read_trainer(path)
    model = Transformer(ModelConfig(**trainer["model"]))
    if os.path.isdir(os.path.join(path, DCP_DIR)):
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

        import warnings

        state = {"model": get_model_state_dict(model)}
        with warnings.catch_warnings():  # "assuming the intent is to load in a single process": it is
            warnings.simplefilter("ignore", UserWarning)
            dcp.load(state, checkpoint_id=os.path.join(path, DCP_DIR))
        set_model_state_dict(model, state["model"])
    else:
        model.load_state_dict(torch.load(os.path.join(path, "model.pt"), map_location="cpu", mmap=True))
    return model.to(device).eval(), trainer
