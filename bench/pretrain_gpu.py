"""Training throughput on one GPU: our presets against HuggingFace's LlamaForCausalLM of the
same shape, in the same run.

    python bench/pretrain_gpu.py                        # 350m and 1.3b, seq 2048, one H100/H200
    python bench/pretrain_gpu.py --device cpu --preset tiny --steps 3 --warmup 1   # smoke check
        [--preset NAME ...] [--seq-len T] [--batch-size 8] [--steps 20] [--warmup 5]
        [--no-compile] [--skip-hf] [--peak-flops 989e12] [--json FILE]

Every model is timed the same way: parameters in fp32, bf16 autocast, PyTorch SDPA attention,
torch.compile, fused AdamW, gradient clipping at 1.0, one micro-batch of --batch-size random
sequences per step (the loader is benchmarked apart: bench/loader.py). --warmup steps (which
include compilation) are not timed; the next --steps are, between CUDA synchronisations.

MFU counts 6 N + 12 L d T FLOPs per token (corpus.train.model.flops_per_token; N is every
matmul weight, the output projection included) against --peak-flops per GPU (989 TFLOP/s:
dense bf16 on H100/H200 SXM). HF's model has our shape: hidden size, layers, heads, SwiGLU
width, vocabulary (padded to 128), tied embeddings, RoPE theta and RMSNorm epsilon; its
parameter count is printed next to ours. transformers is imported only for that part; without
it the HF rows are skipped. A model that runs out of memory is reported as such and the run
goes on. The whole default run takes about 5 minutes on one H100 (compilation is most of it).
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

from corpus.train.metrics import H100_BF16_PEAK, memory_gib  # noqa: E402
from corpus.train.model import ModelConfig, Transformer, flops_per_token, preset  # noqa: E402

VOCAB = 62080  # WeLM's 62k pieces padded to a multiple of 128, as corpus.train pads them


def ours(cfg: ModelConfig):
    model = Transformer(cfg)
    return model, lambda m, x: m(x[:, :-1], x[:, 1:])


def huggingface(cfg: ModelConfig):
    from transformers import LlamaConfig, LlamaForCausalLM

    hf_cfg = LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model,
                         intermediate_size=cfg.ffn_dim, num_hidden_layers=cfg.n_layer,
                         num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_head,
                         max_position_embeddings=cfg.seq_len, rms_norm_eps=cfg.norm_eps,
                         rope_theta=cfg.rope_theta, tie_word_embeddings=cfg.tie_embeddings,
                         use_cache=False, attn_implementation="sdpa")
    model = LlamaForCausalLM(hf_cfg)
    return model, lambda m, x: m(input_ids=x[:, :-1], labels=x[:, :-1]).loss


def measure(build, cfg: ModelConfig, args, device: torch.device) -> dict:
    """Tokens/s, MFU and peak memory of one model's training steps."""
    torch.manual_seed(0)
    model, loss_of = build(cfg)
    model = model.to(device)
    params = sum(p.numel() for p in model.parameters())
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
    return {"params": params, "tokens_per_s": tps, "mfu": fpt * tps / args.peak_flops,
            "step_s": seconds / args.steps, "warmup_s": warm, "loss": float(loss.detach()),
            "mem_gib": memory_gib(device)}


def release(device: torch.device) -> None:
    gc.collect()
    torch._dynamo.reset()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def run_one(preset_name: str, name: str, build, cfg: ModelConfig, args, device) -> dict:
    row = {"preset": preset_name, "model": name, "seq_len": cfg.seq_len, "batch_size": args.batch_size}
    try:
        row.update(measure(build, cfg, args, device))
    except torch.cuda.OutOfMemoryError:
        row["error"] = "out of memory"
    release(device)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", nargs="+", default=["350m", "1.3b"])
    p.add_argument("--seq-len", type=int, help="default: the preset's context (2048; tiny: 128)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--skip-hf", action="store_true")
    p.add_argument("--peak-flops", type=float, default=H100_BF16_PEAK)
    p.add_argument("--json", metavar="FILE", help="also write the rows here")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    try:
        import transformers
        hf = None if args.skip_hf else transformers.__version__
    except ImportError:
        hf = None
        print("transformers is not installed: HF rows skipped (pip install transformers)")
    rows = []
    for name in args.preset:
        cfg = preset(name, vocab_size=VOCAB, seq_len=args.seq_len)  # None keeps the preset's
        models = [("corpus.train", ours)] + ([(f"HF Llama {hf}", huggingface)] if hf else [])
        for label, build in models:
            row = run_one(name, label, build, cfg, args, device)
            rows.append(row)
            if "error" in row:
                print(f"{name:>6} {label:<22} {row['error']}", flush=True)
            else:
                print(f"{name:>6} {label:<22} {row['params'] / 1e6:>8.1f}M params "
                      f"{row['tokens_per_s']:>10,.0f} tok/s  MFU {row['mfu']:.3f}  "
                      f"{row['mem_gib']:.1f} GiB  (warm-up {row['warmup_s']:.0f} s)", flush=True)
        ok = {r["model"]: r for r in rows if r["preset"] == name and "error" not in r}
        if len(ok) == 2:
            a, b = ok["corpus.train"], next(r for k, r in ok.items() if k != "corpus.train")
            print(f"{name:>6} ours / HF: {a['tokens_per_s'] / b['tokens_per_s']:.2f}x tokens/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
