"""One process per GPU (torchrun): the process group, DDP or FSDP wrapping, gradient sync
across micro-batches, and full state dicts that rank 0 writes and every rank reads back."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def init(device: str, fsdp: bool = False) -> Dist:
    """Join torchrun's process group when there is one (WORLD_SIZE > 1); FSDP in a single
    process gets a group of one (an in-memory store, no network)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(f"cuda:{local}" if device == "cuda" else "cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend)
    elif fsdp and not dist.is_initialized():
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return Dist(rank, world, local, dev)


def barrier(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.barrier()


def any_rank(d: Dist, flag: bool) -> bool:
    """True on every rank when `flag` is true on any."""
    if d.world == 1:
        return flag
    t = torch.tensor([int(flag)], device=d.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean(d: Dist, value: torch.Tensor) -> float:
    """The mean of a scalar over ranks."""
    if d.world > 1:
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)  # gloo has no AVG
        value /= d.world
    return float(value)


def wrap(model: nn.Module, d: Dist, fsdp: bool, bf16: bool) -> nn.Module:
    """DDP across ranks, or FSDP (fully_shard, one unit per transformer block: parameters,
    gradients and optimizer state sharded; bf16 compute and gathers when `bf16`)."""
    if fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 \
            else MixedPrecisionPolicy()
        for block in model.blocks:
            fully_shard(block, mp_policy=mp)
        return fully_shard(model, mp_policy=mp)
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    return model


def no_sync(model: nn.Module, sync: bool):
    """A context for one micro-batch's backward: gradients are reduced across ranks only
    when `sync` (the last micro-batch of a step)."""
    import contextlib

    if hasattr(model, "set_requires_gradient_sync"):  # FSDP
        model.set_requires_gradient_sync(sync)
        return contextlib.nullcontext()
    if sync or not hasattr(model, "no_sync"):
        return contextlib.nullcontext()
    return model.no_sync()


def state_dicts(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Full (unsharded) model and optimizer state, keyed by parameter names, on the CPU;
    complete on rank 0 (empty elsewhere under FSDP)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    return get_state_dict(model, optimizer,
                          options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_state_dicts(model: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict,
                     optim_state: dict) -> None:
    """Load full state dicts (every rank has them; FSDP keeps its shard)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    set_state_dict(model, optimizer, model_state_dict=model_state, optim_state_dict=optim_state,
                   options=StateDictOptions(full_state_dict=True))


def sharded_state_dicts(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """This rank's shards of the model and optimizer state (DTensors under FSDP), for
    torch.distributed.checkpoint: no gather."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    return get_state_dict(model, optimizer)


def set_sharded_state_dicts(model: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict,
                            optim_state: dict) -> None:
    from torch.distributed.checkpoint.state_dict import set_state_dict

    set_state_dict(model, optimizer, model_state_dict=model_state, optim_state_dict=optim_state)
