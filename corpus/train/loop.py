"""The pretraining entrypoint: `python -m corpus.train`, `corpus-train`, or under torchrun:

    torchrun --nproc-per-node 8 -m corpus.train --tokens RUN_DIR/tokens --preset 1.3b \\
        --ckpt-dir ckpt/1.3b --max-steps 100000

Each step: the learning rate of the step (linear warmup, cosine decay to --min-lr over
--schedule-steps), --grad-accum micro-batches under bf16 autocast (gradients synchronised
on the last), gradient clipping, fused AdamW. Checkpoints every --ckpt-every steps, at the
end and when SIGTERM arrives; a start with a checkpoint in --ckpt-dir resumes from the latest
one, on exactly the trajectory an uninterrupted run would have followed.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import time
from dataclasses import asdict

import numpy as np
import torch

from corpus.tokens.shards import read_manifest
from corpus.train import checkpoint, parallel
from corpus.train.data import Batches
from corpus.train.metrics import H100_BF16_PEAK, MetricsLog, memory_gib, mfu
from corpus.train.model import PRESETS, Transformer, flops_per_token, preset

# Peak learning rates by model size (GPT-3's table).
PRESET_LR = {"tiny": 1e-3, "125m": 6e-4, "350m": 3e-4, "1.3b": 2e-4, "2.7b": 1.6e-4, "10b": 1.2e-4}
VOCAB_MULTIPLE = 128  # the embedding gets rows up to a multiple of this (faster matmuls)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="corpus-train", description=__doc__.splitlines()[0])
    p.add_argument("--tokens", required=True, metavar="DIR", help="RUN_DIR/tokens (corpus export-tokens)")
    p.add_argument("--preset", default="125m", choices=list(PRESETS))
    p.add_argument("--max-steps", type=int, default=1000, help="optimizer steps to train to")
    p.add_argument("--schedule-steps", type=int, help="length of the cosine schedule (default: --max-steps)")
    p.add_argument("--ckpt-dir", metavar="DIR", help="checkpoints; resumes from the latest one in it")
    p.add_argument("--ckpt-every", type=int, default=1000, help="steps between checkpoints")
    p.add_argument("--keep-checkpoints", type=int, default=2)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per micro-batch per GPU")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--seq-len", type=int, help="context (default: the shards' seq_len)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: by preset, GPT-3's)")
    p.add_argument("--min-lr", type=float, help="final learning rate (default: lr / 10)")
    p.add_argument("--warmup-steps", type=int, default=2000)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0: none)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile (default: on CUDA)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], help="compute dtype (default: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--fsdp", action="store_true", help="shard parameters, gradients and optimizer state")
    p.add_argument("--activation-checkpointing", action="store_true", help="recompute blocks in backward")
    p.add_argument("--metrics", metavar="FILE", help="JSON lines (default: CKPT_DIR/metrics.jsonl)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--peak-flops", type=float, default=H100_BF16_PEAK, help="per device, for MFU")
    args = p.parse_args(argv)
    args.compile = args.device == "cuda" if args.compile is None else args.compile
    args.dtype = args.dtype or ("bf16" if args.device == "cuda" else "fp32")
    args.lr = args.lr or PRESET_LR[args.preset]
    args.min_lr = args.lr / 10 if args.min_lr is None else args.min_lr
    args.schedule_steps = args.schedule_steps or args.max_steps
    if args.metrics is None and args.ckpt_dir:
        args.metrics = os.path.join(args.ckpt_dir, "metrics.jsonl")
    return args


def learning_rate(step: int, args: argparse.Namespace) -> float:
    """Linear warmup to --lr, then cosine decay to --min-lr at --schedule-steps."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    progress = min(1.0, (step - args.warmup_steps) / max(1, args.schedule_steps - args.warmup_steps))
    return args.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (args.lr - args.min_lr)


def make_optimizer(model: torch.nn.Module, args: argparse.Namespace, fused: bool) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices, none on the norms' gains."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("norm.weight") else decay).append(p)
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=fused)


class StopSignal:
    """Remembers a SIGTERM so the loop can checkpoint and leave between steps."""

    def __init__(self):
        self.received = False
        self.previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.received = True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(args: argparse.Namespace) -> dict:
    """Train to --max-steps (or until SIGTERM); returns the last metrics row."""
    d = parallel.init(args.device)
    if d.device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    manifest = read_manifest(args.tokens)
    seq_len = args.seq_len or manifest["seq_len"]
    vocab = VOCAB_MULTIPLE * math.ceil(manifest["vocab_size"] / VOCAB_MULTIPLE)
    cfg = preset(args.preset, vocab_size=vocab, seq_len=seq_len)
    seed_everything(args.seed)
    model = Transformer(cfg, args.activation_checkpointing).to(d.device)
    wrapped = parallel.wrap(model, d, args.fsdp, args.dtype == "bf16")
    optimizer = make_optimizer(wrapped, args, fused=d.device.type == "cuda")

    step, cursor = 0, 0
    resume = checkpoint.latest(args.ckpt_dir)
    if resume:
        state = checkpoint.load(resume, wrapped, optimizer, d)
        step, cursor = state["step"], state["cursor"]
        if d.main:
            print(f"[train] resumed from {resume} (step {step})", file=sys.stderr)
    data = Batches(args.tokens, args.batch_size, seq_len, d.rank, d.world, cursor)
    runner = torch.compile(wrapped) if args.compile else wrapped
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    tokens_per_step = args.batch_size * seq_len * args.grad_accum * d.world
    fpt = flops_per_token(cfg, seq_len)
    if d.main:
        print(f"[train] {args.preset}: {model.num_params() / 1e6:,.1f}M parameters, {d.world} "
              f"process(es), {tokens_per_step:,} tokens per step, {len(data.shards):,} sequences",
              file=sys.stderr)

    log = MetricsLog(args.metrics, enabled=d.main)
    stop = StopSignal()
    row: dict = {}
    t_log, step_log = time.time(), step
    try:
        while step < args.max_steps:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, args)
            loss_sum = torch.zeros((), device=d.device)
            for micro in range(args.grad_accum):
                with parallel.no_sync(wrapped, sync=micro == args.grad_accum - 1):
                    x, y = data.next(d.device)
                    with autocast:
                        loss = runner(x, y) / args.grad_accum
                    loss.backward()
                loss_sum += loss.detach()
            grad_norm = clip_gradients(wrapped, args.clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            stopping = parallel.any_rank(d, stop.received)
            if step % args.log_every == 0 or step == args.max_steps or stopping:
                loss_value = parallel.mean(d, loss_sum)
                elapsed = time.time() - t_log
                tps = tokens_per_step * (step - step_log) / elapsed
                row = {"step": step, "loss": loss_value, "lr": optimizer.param_groups[0]["lr"],
                       "grad_norm": float(grad_norm), "tokens": step * tokens_per_step,
                       "tokens_per_s": tps, "mfu": mfu(fpt, tps, args.peak_flops, d.world),
                       "mem_gib": memory_gib(d.device), "step_s": elapsed / (step - step_log)}
                log.write(row)
                t_log, step_log = time.time(), step
            if args.ckpt_dir and (step % args.ckpt_every == 0 or step == args.max_steps or stopping):
                save(args, cfg, step, wrapped, optimizer, data, d)
            if stopping:
                if d.main:
                    print(f"[train] SIGTERM: stopping after step {step}"
                          + (" (checkpointed)" if args.ckpt_dir else ""), file=sys.stderr)
                break
    finally:
        stop.restore()
        log.close()
    return row


def clip_gradients(model: torch.nn.Module, clip: float) -> torch.Tensor:
    """Clip the global gradient norm to `clip` (when > 0); returns the norm before clipping."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf"))
    return norm.full_tensor() if hasattr(norm, "full_tensor") else norm  # a DTensor under FSDP


def save(args, cfg, step, model, optimizer, data, d) -> None:
    trainer = {"cursor": data.cursor, "args": vars(args), "model": asdict(cfg)}
    os.makedirs(args.ckpt_dir, exist_ok=True)
    checkpoint.save(args.ckpt_dir, step, model, optimizer, trainer, d, args.keep_checkpoints)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    train(args)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
