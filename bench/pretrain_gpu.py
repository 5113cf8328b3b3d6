"""Training throughput on one GPU: our presets against Hugging Face's LlamaForCausalLM of the
same shape, FSDP off and on, in the same run, as a table.

    python bench/pretrain_gpu.py                      # 125m, 350m, 1.3b; seq 2048; one H100/H200
    python bench/pretrain_gpu.py --dry-run            # CPU, small shapes, 2 steps: tests the script
        [--preset NAME ...] [--fsdp off on] [--seq-len T] [--batch-size 8] [--steps 20]
        [--warmup 5] [--no-compile] [--skip-hf] [--peak-flops 989e12] [--json FILE]

Every model is timed the same way: parameters in fp32, bf16 autocast, PyTorch SDPA attention,
torch.compile, fused AdamW, gradient clipping at 1.0, one micro-batch of --batch-size random
sequences per step (the loader is benchmarked apart: bench/loader.py). --warmup steps (which
include compilation) are not timed; the next --steps are, between CUDA synchronisations.
`--fsdp on` wraps the model as the trainer's --fsdp does (fully_shard per block, then the
whole; bf16 parameters gathered, fp32 gradient reduction); on one GPU it measures FSDP's
overhead (under torchrun, each process reports its own GPU's tokens/s).

MFU counts 6 N + 12 L d T FLOPs per token (corpus.train.model.flops_per_token; N is every
matmul weight, the output projection included) against --peak-flops per GPU (989 TFLOP/s:
dense bf16 on H100/H200 SXM); on CPU it is n/a. HF's model has our shape: hidden size, layers,
heads, SwiGLU width, vocabulary (padded to 128), tied embeddings, RoPE theta and RMSNorm
epsilon; its parameter count is printed next to ours. transformers is imported only for that
part; without it the HF rows are skipped. A model that runs out of memory is reported as such
and the run goes on. The goals (issue 17): MFU >= 0.55 at 1.3B and >= 1.2x HF's tokens/s.

--dry-run replaces each preset by a small model of the same family (2 layers, width 64, 4
heads, vocabulary 512, sequence 32), runs 1 warm-up and 2 timed steps on the CPU without
compiling: every code path (both models, FSDP off and on, the table) in seconds; CI runs it.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus.train import parallel  # noqa: E402
from corpus.train.metrics import H100_BF16_PEAK, memory_gib  # noqa: E402
from corpus.train.model import ModelConfig, Transformer, flops_per_token, preset  # noqa: E402

VOCAB = 62080  # WeLM's 62k pieces padded to a multiple of 128, as corpus.train pads them


def ours(cfg: ModelConfig):
    model = Transformer(cfg)
    return model, lambda m, x: m(x[:, :-1], x[:, 1:]), list(model.blocks)


def huggingface(cfg: ModelConfig):
    from transformers import LlamaConfig, LlamaForCausalLM

    hf_cfg = LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model,
                         intermediate_size=cfg.ffn_dim, num_hidden_layers=cfg.n_layer,
                         num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_head,
                         max_position_embeddings=cfg.seq_len, rms_norm_eps=cfg.norm_eps,
                         rope_theta=cfg.rope_theta, tie_word_embeddings=cfg.tie_embeddings,
                         use_cache=False, attn_implementation="sdpa")
    model = LlamaForCausalLM(hf_cfg)
    return model, lambda m, x: m(input_ids=x[:, :-1], labels=x[:, :-1]).loss, list(model.model.layers)


def shard(model, blocks):
    """The trainer's FSDP wrapping (corpus.train.parallel.wrap): each block, then the whole."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for block in blocks:
        fully_shard(block, mp_policy=mp)
    return fully_shard(model, mp_policy=mp)


def measure(build, cfg: ModelConfig, args, device: torch.device, fsdp: bool = False) -> dict:
    """Tokens/s, MFU and peak memory of one model's training steps."""
    torch.manual_seed(0)
    model, loss_of, blocks = build(cfg)
    model = model.to(device)
    params = sum(p.numel() for p in model.parameters())
    if fsdp:
        model = shard(model, blocks)
    cuda = device.type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1,
                                  fused=cuda)
    runner = torch.compile(model) if args.compile else model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16)
    x = torch.randint(0, cfg.vocab_size, (args.batch_size, cfg.seq_len + 1), device=device)

    def step():
        with autocast:
            loss = loss_of(runner, x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    sync()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    seconds = time.perf_counter() - t0
    tps = args.steps * args.batch_size * cfg.seq_len / seconds
    fpt = flops_per_token(cfg, cfg.seq_len)
    return {"params": params, "tokens_per_s": tps,
            "mfu": fpt * tps / args.peak_flops if cuda else None,
            "step_s": seconds / args.steps, "warmup_s": warm, "loss": float(loss.detach()),
            "mem_gib": memory_gib(device)}


def release(device: torch.device) -> None:
    gc.collect()
    torch._dynamo.reset()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def run_one(preset_name: str, name: str, build, cfg: ModelConfig, args, device, fsdp: bool) -> dict:
    row = {"preset": preset_name, "model": name, "fsdp": fsdp, "seq_len": cfg.seq_len,
           "batch_size": args.batch_size}
    try:
        row.update(measure(build, cfg, args, device, fsdp))
    except torch.cuda.OutOfMemoryError:
        row["error"] = "out of memory"
    release(device)
    return row


DRY_RUN_SHAPE = dict(n_layer=2, n_head=4, d_model=64, vocab_size=512, seq_len=32)


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table, with ours / HF per preset and FSDP setting."""
    lines = ["| preset | model | FSDP | parameters | tokens/s | MFU | peak GiB | ours / HF |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['preset']} | {r['model']} | {'on' if r['fsdp'] else 'off'} | | {r['error']} | | | |")
            continue
        hf = next((h for h in rows if h["preset"] == r["preset"] and h["fsdp"] == r["fsdp"]
                   and h["model"].startswith("HF") and "error" not in h), None)
        ratio = f"{r['tokens_per_s'] / hf['tokens_per_s']:.2f}x" if hf and r["model"] == "corpus.train" else ""
        mfu_text = "n/a" if r["mfu"] is None else f"{r['mfu']:.3f}"
        lines.append(f"| {r['preset']} | {r['model']} | {'on' if r['fsdp'] else 'off'} | "
                     f"{r['params'] / 1e6:,.1f} M | {r['tokens_per_s']:,.0f} | {mfu_text} | "
                     f"{r['mem_gib']:.1f} | {ratio} |")
    return "\n".join(lines)


def goals(rows: list[dict]) -> list[str]:
    """Issue 17's goals at 1.3B (GPU rows only)."""
    out = []
    for fsdp in (False, True):
        ours_row = next((r for r in rows if r["preset"] == "1.3b" and r["fsdp"] == fsdp
                         and r["model"] == "corpus.train" and r.get("mfu") is not None), None)
        hf = next((r for r in rows if r["preset"] == "1.3b" and r["fsdp"] == fsdp
                   and r["model"].startswith("HF") and "error" not in r), None)
        if ours_row:
            ok = ours_row["mfu"] >= 0.55
            line = f"1.3b FSDP {'on' if fsdp else 'off'}: MFU {ours_row['mfu']:.3f} (goal 0.55: {'met' if ok else 'NOT met'})"
            if hf:
                ratio = ours_row["tokens_per_s"] / hf["tokens_per_s"]
                line += f", {ratio:.2f}x HF (goal 1.2x: {'met' if ratio >= 1.2 else 'NOT met'})"
            out.append(line)
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", nargs="+", default=["125m", "350m", "1.3b"], help="presets to time")
    p.add_argument("--fsdp", nargs="+", choices=["off", "on"], default=["off", "on"],
                   help="FSDP settings to time each model with")
    p.add_argument("--seq-len", type=int, help="sequence length (default: the preset's, 2048)")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per step")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="where to run")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True, help="torch.compile")
    p.add_argument("--skip-hf", action="store_true", help="time our model only")
    p.add_argument("--peak-flops", type=float, default=H100_BF16_PEAK, help="per GPU, for MFU")
    p.add_argument("--json", metavar="FILE", help="also write the rows here")
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, small shapes, 1 warm-up and 2 timed steps, no compile: tests the script")
    args = p.parse_args(argv)
    if args.dry_run:
        args.device, args.compile, args.steps, args.warmup, args.batch_size = "cpu", False, 2, 1, 2
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    else:
        print(f"device: CPU ({'dry run, small shapes' if args.dry_run else 'smoke check'}), "
              f"torch {torch.__version__}: CPU figures say nothing about the GPU")
    try:
        import transformers
        hf = None if args.skip_hf else transformers.__version__
    except ImportError:
        hf = None
        print("transformers is not installed: HF rows skipped (pip install transformers)")
    if "on" in args.fsdp:
        parallel.init(args.device, fsdp=True)  # torchrun's group, or a group of one
    rows = []
    for name in args.preset:
        if args.dry_run:
            cfg = preset(name, **DRY_RUN_SHAPE)
        else:
            cfg = preset(name, vocab_size=VOCAB, seq_len=args.seq_len)  # None keeps the preset's
        models = [("corpus.train", ours)] + ([(f"HF Llama {hf}", huggingface)] if hf else [])
        for fsdp in [f == "on" for f in args.fsdp]:
            for label, build in models:
                row = run_one(name, label, build, cfg, args, device, fsdp)
                rows.append(row)
                if "error" in row:
                    print(f"{name:>6} {label:<22} FSDP {'on ' if fsdp else 'off'} {row['error']}", flush=True)
                else:
                    mfu_text = "n/a" if row["mfu"] is None else f"{row['mfu']:.3f}"
                    print(f"{name:>6} {label:<22} FSDP {'on ' if fsdp else 'off'} "
                          f"{row['params'] / 1e6:>8.1f}M params {row['tokens_per_s']:>10,.0f} tok/s  "
                          f"MFU {mfu_text}  {row['mem_gib']:.1f} GiB  (warm-up {row['warmup_s']:.0f} s)",
                          flush=True)
    print()
    print(table(rows))
    for line in goals(rows):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
