"""`corpus generate CKPT --prompt TEXT`: text from a trained checkpoint.

The prompt is encoded and the continuation decoded with the run's SentencePiece model (the
one the shards were exported with: the checkpoint's --tokens manifest names it and its
sha256), so spaces, tabs and newlines come back exactly as written. Decoding is greedy
(--temperature 0) or sampled (temperature, top-k, top-p, --seed), up to --max-new-tokens or
the end-of-document id. A KV cache (corpus.train.model.KVCache) keeps each layer's keys and
values: every new token costs one single-token forward pass (--no-cache recomputes the whole
prefix each step, the reference the tests compare with).
"""

from __future__ import annotations

import argparse
import hashlib
import os

from corpus.train import TrainError  # torch is imported by the functions that need it: `corpus` lists
                                     # this command without the train extra installed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ckpt", metavar="CKPT", help="a checkpoint folder (step-NNNNNNNN) or a --ckpt-dir (its latest)")
    p.add_argument("--prompt", required=True, help="text to continue (taken as written: whitespace is kept)")
    p.add_argument("--max-new-tokens", type=int, default=100, help="tokens to generate at most (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=0.8, help="0: greedy (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0: all; default: %(default)s)")
    p.add_argument("--top-p", type=float, default=1.0,
                   help="sample among the likeliest tokens holding this probability (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default: %(default)s)")
    p.add_argument("--tokenizer", metavar="FILE",
                   help="SentencePiece model (default: the one the checkpoint's token shards name)")
    p.add_argument("--no-cache", action="store_true", help="recompute the prefix every step (default: KV cache)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")


def find_tokenizer(trainer: dict, path: str | None = None):
    """The run's Tokenizer: `path`, else the model the checkpoint's token manifest names
    (relative to the run directory or the tokens directory), checked against its sha256."""
    from corpus.tokens.shards import read_manifest
    from corpus.tokens.tokenizer import Tokenizer

    if path:
        if not os.path.exists(path):
            raise TrainError(f"--tokenizer {path}: no such file")
        return Tokenizer.load(path)
    tokens = trainer.get("args", {}).get("tokens")
    try:
        manifest = read_manifest(tokens)
    except (FileNotFoundError, ValueError, TypeError):
        raise TrainError(f"the checkpoint's token shards {tokens} are not readable here: "
                         "name the SentencePiece model with --tokenizer") from None
    named = manifest.get("tokenizer", {}).get("path") or "tokenizer/spm.model"
    for candidate in (named, os.path.join(os.path.dirname(os.path.abspath(tokens)), named),
                      os.path.join(tokens, named)):
        if os.path.isfile(candidate):
            with open(candidate, "rb") as f:
                model = f.read()
            want = manifest.get("tokenizer", {}).get("sha256")
            if want and hashlib.sha256(model).hexdigest() != want:
                raise TrainError(f"{candidate} is not the tokenizer the shards were exported with "
                                 f"(sha256 differs): name the right one with --tokenizer")
            return Tokenizer(model)
    raise TrainError(f"no tokenizer at {named} (from {tokens}/manifest.json): name it with --tokenizer")


def pick(logits, temperature: float, top_k: int, top_p: float, generator):
    """The next token of each row of `logits` (B, V)."""
    import torch

    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > top_p  # keep the smallest prefix reaching top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)


def generate(model, prompt: list[int], max_new_tokens: int, temperature: float = 0.0, top_k: int = 0,
             top_p: float = 1.0, seed: int = 0, eos_id: int | None = None, vocab_size: int | None = None,
             use_cache: bool = True) -> list[int]:
    """The generated token ids (the prompt not included)."""
    import torch

    with torch.no_grad():
        return _generate(model, prompt, max_new_tokens, temperature, top_k, top_p, seed, eos_id,
                         vocab_size, use_cache)


def _generate(model, prompt, max_new_tokens, temperature, top_k, top_p, seed, eos_id, vocab_size,
              use_cache) -> list[int]:
    import torch

    from corpus.train.model import KVCache

    cfg = model.cfg
    if not prompt:
        raise TrainError("the prompt is empty: give at least one character")
    if len(prompt) + max_new_tokens > cfg.seq_len:
        raise TrainError(f"the prompt ({len(prompt)} tokens) plus --max-new-tokens {max_new_tokens} "
                         f"exceed the model's context of {cfg.seq_len} tokens: ask for at most "
                         f"{max(0, cfg.seq_len - len(prompt))} new tokens")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor([prompt], device=device)
    cache = KVCache(cfg, 1, len(prompt) + max_new_tokens, device) if use_cache else None
    logits = model(ids, cache=cache)[:, -1]
    out: list[int] = []
    for _ in range(max_new_tokens):
        if vocab_size and vocab_size < logits.shape[-1]:
            logits[:, vocab_size:] = float("-inf")  # the rows that pad the vocabulary
        nxt = pick(logits, temperature, top_k, top_p, generator)
        out.append(int(nxt))
        if eos_id is not None and out[-1] == eos_id:
            break
        if cache is not None:
            logits = model(nxt.view(1, 1), cache=cache)[:, -1]
        else:
            ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
            logits = model(ids)[:, -1]
    return out


def generate_command(args: argparse.Namespace) -> int:
    from corpus.train.checkpoint import load_model

    if args.max_new_tokens < 1:
        raise TrainError("--max-new-tokens must be at least 1")
    model, trainer = load_model(args.ckpt, args.device)
    tok = find_tokenizer(trainer, args.tokenizer)
    prompt = tok.encode(args.prompt).tolist()
    new = generate(model, prompt, args.max_new_tokens, args.temperature, args.top_k, args.top_p,
                   args.seed, tok.eos_id, tok.vocab_size, not args.no_cache)
    if new and new[-1] == tok.eos_id:
        new = new[:-1]
    print(tok.decode(prompt + new))
    return 0
