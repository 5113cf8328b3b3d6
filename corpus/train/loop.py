"""The pretraining entrypoint (`python -m corpus.train`, `corpus-train`, or torchrun, one process per GPU).

    torchrun --nproc-per-node 8 -m corpus.train --tokens RUN_DIR/tokens --preset 1.3b \\
        --ckpt-dir ckpt/1.3b --max-steps 100000

Each step: the learning rate of the step (linear warmup over --warmup-steps, cosine decay
to --min-lr at --schedule-steps; both scale with --max-steps unless given), --grad-accum
micro-batches under bf16 autocast (gradients synchronised on the last), gradient clipping,
fused AdamW. Checkpoints every --ckpt-every steps, at the
end and when SIGTERM arrives; a start with a checkpoint in --ckpt-dir resumes from the latest
one, on exactly the trajectory an uninterrupted run would have followed. With a validation
split in the shards (export-tokens' tokens.validation_fraction), the validation loss and
perplexity on the same --eval-batches batches are logged every --eval-every steps and the best
step is reported. Under --fsdp, checkpoints are sharded (torch.distributed.checkpoint, one
file per rank) and resume with any number of processes; --dry-run prints the memory per GPU.
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
from corpus.train import TrainError, checkpoint, parallel
from corpus.train.data import Batches
from corpus.train.metrics import H100_BF16_PEAK, MetricsLog, memory_gib, mfu
from corpus.train.model import PRESETS, Transformer, flops_per_token, preset

# Peak learning rates by model size (GPT-3's table).
PRESET_LR = {"tiny": 1e-3, "125m": 6e-4, "350m": 3e-4, "1.3b": 2e-4, "2.7b": 1.6e-4, "10b": 1.2e-4}
VOCAB_MULTIPLE = 128  # the embedding gets rows up to a multiple of this (faster matmuls)


def default_warmup(max_steps: int) -> int:
    """The warmup when --warmup-steps is not given: a tenth of the run, at most 2,000 steps
    (GPT-3's 375M-token warmup is about 2,000 steps at the 1.3B batch)."""
    return min(2000, max(1, max_steps // 10))


class _Help(argparse.RawDescriptionHelpFormatter):
    """Every flag's help shows its default: "(default: X)" is added unless the help already
    says what the default is (those that depend on other flags or on the machine)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or action.nargs == 0:
            return text
        return text + " (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="corpus-train", description=__doc__, formatter_class=_Help)
    p.add_argument("--tokens", metavar="DIR",
                   help="RUN_DIR/tokens written by `corpus export-tokens` (required unless --dry-run; no default)")
    p.add_argument("--preset", default="125m", choices=list(PRESETS), help="model shape")
    p.add_argument("--max-steps", type=int, default=1000, help="optimizer steps to train to")
    p.add_argument("--schedule-steps", type=int,
                   help="step at which the cosine decay reaches --min-lr (default: --max-steps)")
    p.add_argument("--warmup-steps", type=int,
                   help="linear warmup steps (default: min(2000, max(1, --max-steps // 10)): "
                        "2,000 for runs of 20,000 steps or more)")
    p.add_argument("--ckpt-dir", metavar="DIR", help="checkpoints; resumes from the latest one in it (default: none, no checkpoints)")
    p.add_argument("--ckpt-every", type=int, default=1000, help="steps between checkpoints")
    p.add_argument("--keep-checkpoints", type=int, default=2, help="how many of the latest checkpoints to keep")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu",
                   help="where to train (default: cuda when available, here %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the initialisation and random states")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per micro-batch per GPU")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--seq-len", type=int, help="context (default: the shards' seq_len)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: by preset, GPT-3's: "
                   + ", ".join(f"{k} {v:g}" for k, v in PRESET_LR.items()) + ")")
    p.add_argument("--min-lr", type=float, help="final learning rate (default: --lr / 10)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (not on norms)")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0: none)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction,
                   help="torch.compile (default: on with CUDA, off on CPU)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], help="compute dtype (default: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--fsdp", action="store_true",
                   help="shard parameters, gradients and optimizer state; checkpoints sharded per rank "
                        "(default: off: DDP, full checkpoints)")
    p.add_argument("--async-checkpoints", action=argparse.BooleanOptionalAction,
                   help="under --fsdp, write checkpoint shards in the background while training "
                        "goes on (default: on with CUDA, off on CPU)")
    p.add_argument("--activation-checkpointing", action="store_true", help="recompute blocks in backward (default: off)")
    p.add_argument("--eval-every", type=int,
                   help="steps between validation losses (default: --ckpt-every; 0: never)")
    p.add_argument("--eval-batches", type=int, default=8,
                   help="validation micro-batches per evaluation (the same ones every time)")
    p.add_argument("--metrics", metavar="FILE", help="JSON lines (default: CKPT_DIR/metrics.jsonl; none without --ckpt-dir)")
    p.add_argument("--log-every", type=int, default=10, help="steps between metrics lines")
    p.add_argument("--peak-flops", type=float, default=H100_BF16_PEAK,
                   help="dense bf16 FLOP/s per GPU, for MFU (989e12: H100/H200 SXM)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the preset's memory per GPU for parameters, gradients and AdamW "
                        "state under FSDP at --dry-run-gpus, then exit (default: off)")
    p.add_argument("--dry-run-gpus", type=int, nargs="+", default=[8, 64], metavar="N",
                   help="numbers of GPUs for --dry-run")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    if not args.tokens and not args.dry_run:
        p.error("--tokens is required (RUN_DIR/tokens from `corpus export-tokens`)")
    for flag in ("max_steps", "batch_size", "grad_accum", "ckpt_every", "log_every", "keep_checkpoints"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1")
    args.compile = args.device == "cuda" if args.compile is None else args.compile
    if args.async_checkpoints is None:
        args.async_checkpoints = args.device == "cuda"
    args.dtype = args.dtype or ("bf16" if args.device == "cuda" else "fp32")
    args.lr = args.lr or PRESET_LR[args.preset]
    args.min_lr = args.lr / 10 if args.min_lr is None else args.min_lr
    args.schedule_steps = args.schedule_steps or args.max_steps
    args.warmup_steps = default_warmup(args.max_steps) if args.warmup_steps is None else args.warmup_steps
    args.eval_every = args.ckpt_every if args.eval_every is None else args.eval_every
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


def model_config(args: argparse.Namespace, manifest: dict):
    """The model of --preset for the shards' vocabulary (padded to VOCAB_MULTIPLE) and context."""
    seq_len = args.seq_len or manifest["seq_len"]
    if seq_len + 1 > manifest["seq_len"] + 1:
        raise TrainError(f"--seq-len {seq_len} is longer than the shards' {manifest['seq_len']} "
                         f"(export them again with --set tokens.seq_len={seq_len}, or leave --seq-len out)")
    vocab = VOCAB_MULTIPLE * math.ceil(manifest["vocab_size"] / VOCAB_MULTIPLE)
    return preset(args.preset, vocab_size=vocab, seq_len=seq_len), seq_len


def read_tokens_manifest(tokens_dir: str) -> dict:
    try:
        return read_manifest(tokens_dir)
    except (FileNotFoundError, ValueError) as e:
        raise TrainError(f"--tokens: {e}") from None


def mix_line(manifest: dict) -> str:
    """The share of tokens per source the shards hold (from the manifest)."""
    by_source = manifest.get("by_source") or {}
    total = sum(c["tokens"] for c in by_source.values())
    if not total:
        return "no per-source counts in the manifest"
    return ", ".join(f"{s} {100 * c['tokens'] / total:.1f}%" for s, c in
                     sorted(by_source.items(), key=lambda kv: -kv[1]["tokens"]))


def train(args: argparse.Namespace) -> dict:
    """Train to --max-steps (or until SIGTERM); returns the last metrics row."""
    manifest = read_tokens_manifest(args.tokens)
    cfg, seq_len = model_config(args, manifest)
    resume = checkpoint.latest(args.ckpt_dir)
    if resume:
        checkpoint.check_compatible(resume, cfg, args)  # before any process group or model
    d = parallel.init(args.device, args.fsdp)
    if d.device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    seed_everything(args.seed)
    model = Transformer(cfg, args.activation_checkpointing).to(d.device)
    wrapped = parallel.wrap(model, d, args.fsdp, args.dtype == "bf16")
    optimizer = make_optimizer(wrapped, args, fused=d.device.type == "cuda")

    step, cursor, best = 0, 0, None
    if resume:
        state = checkpoint.load(resume, wrapped, optimizer, d)
        step, cursor, best = state["step"], state["cursor"], state.get("best_val")
        if d.main:
            print(f"[train] resumed from {resume} (step {step})", file=sys.stderr)
    try:
        data = Batches(args.tokens, args.batch_size, seq_len, d.rank, d.world, cursor)
    except ValueError as e:
        raise TrainError(f"--tokens: {e}") from None
    valid = Validation.create(args, seq_len, d)
    runner = torch.compile(wrapped) if args.compile else wrapped
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    tokens_per_step = args.batch_size * seq_len * args.grad_accum * d.world
    fpt = flops_per_token(cfg, seq_len)
    if d.main:
        print(f"[train] {args.preset}: {model.num_params() / 1e6:,.1f}M parameters, {d.world} "
              f"process(es), {tokens_per_step:,} tokens per step, {len(data.shards):,} sequences; "
              f"warmup {args.warmup_steps} steps, cosine to step {args.schedule_steps}", file=sys.stderr)
        print(f"[train] mix (tokens by source): {mix_line(manifest)}", file=sys.stderr)
        if valid is None:
            print("[train] no validation: the shards have no validation split "
                  "(export-tokens with tokens.validation_fraction > 0) or --eval-every is 0",
                  file=sys.stderr)
        else:
            print(f"[train] validation: {valid.describe()} every {args.eval_every} steps", file=sys.stderr)

    log = MetricsLog(args.metrics, enabled=d.main)
    if d.main and not resume:
        log.write_info({"event": "start", "preset": args.preset, "world": d.world,
                        "tokens_per_step": tokens_per_step, "mix": manifest.get("by_source"),
                        "validation": valid.describe() if valid else None})

    def evaluate() -> None:
        nonlocal best, t_log
        val = valid.loss(wrapped, autocast)
        if step and (best is None or val < best["loss"]):
            best = {"step": step, "loss": val}
        shown = best or {"step": step, "loss": val}
        log.write_eval({"step": step, "val_loss": val, "val_ppl": math.exp(min(val, 80.0)),
                        "best_step": shown["step"], "best_val_loss": shown["loss"]})
        t_log = time.time()  # the evaluation is not training time

    stop = StopSignal()
    row: dict = {}
    t_log, step_log = time.time(), step
    try:
        if valid is not None and step == 0:
            evaluate()  # the untrained model's loss: the baseline (ln of the vocabulary, about)
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
                       "tokens_per_s": tps,
                       "mfu": mfu(fpt, tps, args.peak_flops, d.world) if d.device.type == "cuda" else None,
                       "mem_gib": memory_gib(d.device), "step_s": elapsed / (step - step_log)}
                log.write(row)
                t_log, step_log = time.time(), step
            if valid is not None and (step % args.eval_every == 0 or step == args.max_steps):
                evaluate()
            if args.ckpt_dir and (step % args.ckpt_every == 0 or step == args.max_steps or stopping):
                save(args, cfg, step, wrapped, optimizer, data, d, best)
            if stopping:
                if d.main:
                    print(f"[train] SIGTERM: stopping after step {step}"
                          + (" (checkpointed)" if args.ckpt_dir else ""), file=sys.stderr)
                break
        if best is not None and d.main:
            print(f"[train] best validation loss {best['loss']:.4f} (perplexity "
                  f"{math.exp(min(best['loss'], 80.0)):.2f}) at step {best['step']}", file=sys.stderr)
    finally:
        checkpoint.finish_pending(d)
        stop.restore()
        log.close()
    if best is not None:
        row = {**row, "best_step": best["step"], "best_val_loss": best["loss"]}
    return row


class Validation:
    """The validation loss on a fixed set of batches: the first `eval_batches * world *
    batch_size` rows of the validation split (wrapping around when it is smaller), rank r
    the r-th block of each micro-batch, averaged over all of them."""

    def __init__(self, batches: Batches, count: int, d: parallel.Dist):
        self.batches, self.count, self.d = batches, count, d

    @classmethod
    def create(cls, args, seq_len: int, d: parallel.Dist) -> "Validation | None":
        if not args.eval_every:
            return None
        try:
            batches = Batches(args.tokens, args.batch_size, seq_len, d.rank, d.world, 0, split="validation")
        except LookupError:
            return None
        return cls(batches, args.eval_batches, d)

    def describe(self) -> str:
        return (f"{self.count} micro-batches of {self.batches.batch_size} x {self.d.world} sequences "
                f"from {len(self.batches.shards):,} held-out sequences")

    @torch.no_grad()
    def loss(self, model: torch.nn.Module, autocast) -> float:
        was_training = model.training
        model.eval()
        self.batches.cursor = 0  # the same batches every time
        total = torch.zeros((), device=self.d.device)
        for _ in range(self.count):
            x, y = self.batches.next(self.d.device)
            with autocast:
                total += model(x, y).float()
        model.train(was_training)
        return parallel.mean(self.d, total / self.count)


def clip_gradients(model: torch.nn.Module, clip: float) -> torch.Tensor:
    """Clip the global gradient norm to `clip` (when > 0); returns the norm before clipping."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else float("inf"))
    return norm.full_tensor() if hasattr(norm, "full_tensor") else norm  # a DTensor under FSDP


def save(args, cfg, step, model, optimizer, data, d, best=None) -> None:
    trainer = {"cursor": data.cursor, "args": vars(args), "model": asdict(cfg), "best_val": best}
    os.makedirs(args.ckpt_dir, exist_ok=True)
    checkpoint.save(args.ckpt_dir, step, model, optimizer, trainer, d, args.keep_checkpoints,
                    sharded=args.fsdp, asynchronous=args.fsdp and args.async_checkpoints)


def dry_run(args: argparse.Namespace) -> str:
    """Memory per GPU of the preset's parameters, gradients and AdamW state (fp32 each: 4 + 4
    + 8 bytes a parameter) sharded by FSDP over each of --dry-run-gpus, as a table."""
    vocab = 62080
    if args.tokens:
        vocab = model_config(args, read_tokens_manifest(args.tokens))[0].vocab_size
    cfg = preset(args.preset, vocab_size=vocab, seq_len=args.seq_len)
    with torch.device("meta"):
        n = Transformer(cfg).num_params()
    lines = [f"{args.preset}: {n / 1e9:.2f} B parameters (vocabulary {vocab:,}), fp32 weights, "
             "gradients and AdamW moments sharded by --fsdp; activations and buffers not included",
             f"{'GPUs':>6} {'params GiB':>11} {'grads GiB':>10} {'AdamW GiB':>10} {'total GiB':>10}"]
    for gpus in args.dry_run_gpus:
        p, g, o = (n * b / gpus / 2**30 for b in (4, 4, 8))
        lines.append(f"{gpus:>6} {p:>11.2f} {g:>10.2f} {o:>10.2f} {p + g + o:>10.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.dry_run:
            print(dry_run(args))
            return 0
        train(args)
    except TrainError as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun: once, not once per process
            print(f"corpus-train: error: {e}", file=sys.stderr)
        return 2
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0
