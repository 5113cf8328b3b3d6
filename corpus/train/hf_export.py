"""`corpus export-hf CKPT OUT`: a checkpoint as a Hugging Face transformers model.

Our decoder is Llama's architecture: pre-norm RMSNorm (weight times the fp32-normalised
input), rotary embeddings, SDPA attention without biases, a SwiGLU MLP (silu(gate) * up),
an untied or tied output projection. The conventions match without a permutation:

- rotary layout: we rotate (first half, second half) pairs of each head's channels with the
  frequencies theta^(-2i / head_dim), which is HF's `rotate_half` convention (Meta's
  original checkpoints rotate interleaved pairs and need HF's q/k permutation; ours do not);
- our fused `qkv` is [q; k; v] along the output rows, split into q_proj, k_proj, v_proj;
- our `up` is [gate; value]: the first half is gate_proj, the second up_proj;
- the vocabulary keeps its padding to a multiple of 128 (the padded rows are never produced
  by the tokenizer).

OUT gets config.json, model.safetensors (fp32) and generation_config.json from
`save_pretrained`, the tokenizer as `tokenizer.json` (`hf_tokenizer`: the same ids as ours,
`AutoTokenizer.from_pretrained(OUT)` loads it) with tokenizer_config.json, and the run's
SentencePiece model itself (`spm.model`). The tests load OUT with LlamaForCausalLM and
AutoTokenizer and compare logits and token ids with ours.
"""

from __future__ import annotations

import argparse
import json
import os

from corpus.train import TrainError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ckpt", metavar="CKPT", help="a checkpoint folder (step-NNNNNNNN) or a --ckpt-dir (its latest)")
    p.add_argument("out", metavar="OUT", help="folder to write (must not exist, or be empty)")
    p.add_argument("--tokenizer", metavar="FILE",
                   help="SentencePiece model (default: the one the checkpoint's token shards name)")


def hf_tokenizer(tok):
    """The run's SentencePiece BPE model as a Hugging Face `tokenizers` BPE: the same pieces,
    merges ranked by the merged piece's SentencePiece score (its id), byte fallback, a space
    is U+2581 with none added in front, `\n` and `\t` matched first as SentencePiece's
    user-defined pieces are. It gives our ids for any text without a literal U+2581 (which we
    spell with bytes) or a spelled-out special token such as `</s>` (HF reads it as the token
    unless `split_special_tokens=True`)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers

    sp = tok.sp
    if sp.id_to_piece(tok.eos_id) != "</s>":
        raise TrainError("the tokenizer's end-of-document piece is not </s>: not exportable to HF")
    vocab = {sp.id_to_piece(i): i for i in range(tok.vocab_size)}
    normal = {p: i for p, i in vocab.items() if not (sp.is_unknown(i) or sp.is_control(i) or sp.is_byte(i))}
    ranked = sorted((pid, vocab[p[:k]], vocab[p[k:]], p[:k], p[k:]) for p, pid in normal.items()
                    for k in range(1, len(p)) if p[:k] in normal and p[k:] in normal)
    bpe = models.BPE(vocab=vocab, merges=[(a, b) for *_, a, b in ranked], unk_token="<unk>",
                     fuse_unk=True, byte_fallback=True)
    out = Tokenizer(bpe)
    out.normalizer = normalizers.Replace(" ", "\u2581")
    out.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    out.add_tokens([AddedToken("\n", normalized=False), AddedToken("\t", normalized=False)])
    out.add_special_tokens([AddedToken("<unk>"), AddedToken("<s>"), AddedToken("</s>")])
    return out


def hf_config(cfg, eos_id: int | None = None):
    from transformers import LlamaConfig

    if cfg.mlp != "swiglu":
        raise TrainError(f"only SwiGLU models map to LlamaForCausalLM (this one has mlp={cfg.mlp})")
    return LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.ffn_dim,
                       num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head,
                       num_key_value_heads=cfg.n_head, head_dim=cfg.head_dim, hidden_act="silu",
                       max_position_embeddings=cfg.seq_len, rms_norm_eps=cfg.norm_eps,
                       rope_theta=cfg.rope_theta, tie_word_embeddings=cfg.tie_embeddings,
                       attention_bias=False, mlp_bias=False, bos_token_id=None, eos_token_id=eos_id,
                       pad_token_id=None, torch_dtype="float32")


def hf_state_dict(model) -> dict:
    """Our parameter names and layouts to LlamaForCausalLM's."""
    sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    out = {"model.embed_tokens.weight": sd["embed.weight"], "model.norm.weight": sd["norm.weight"]}
    if not model.cfg.tie_embeddings:
        out["lm_head.weight"] = sd["head.weight"]
    for i in range(model.cfg.n_layer):
        b, h = f"blocks.{i}.", f"model.layers.{i}."
        q, k, v = sd[b + "attn.qkv.weight"].chunk(3, dim=0)
        gate, up = sd[b + "mlp.up.weight"].chunk(2, dim=0)
        out.update({
            h + "input_layernorm.weight": sd[b + "attn_norm.weight"],
            h + "self_attn.q_proj.weight": q.contiguous(), h + "self_attn.k_proj.weight": k.contiguous(),
            h + "self_attn.v_proj.weight": v.contiguous(), h + "self_attn.o_proj.weight": sd[b + "attn.proj.weight"],
            h + "post_attention_layernorm.weight": sd[b + "mlp_norm.weight"],
            h + "mlp.gate_proj.weight": gate.contiguous(), h + "mlp.up_proj.weight": up.contiguous(),
            h + "mlp.down_proj.weight": sd[b + "mlp.down.weight"],
        })
    return out


def to_hf(model, eos_id: int | None = None):
    """A LlamaForCausalLM (fp32, eval mode) holding `model`'s weights."""
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM(hf_config(model.cfg, eos_id)).float()
    missing, unexpected = hf.load_state_dict(hf_state_dict(model), strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and model.cfg.tie_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"weights do not map: missing {missing}, unexpected {unexpected}")
    if model.cfg.tie_embeddings:
        hf.tie_weights()
    return hf.eval()


def export_hf_command(args: argparse.Namespace) -> int:
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise TrainError("export-hf needs transformers: .venv/bin/pip install transformers") from None
    from corpus.train.checkpoint import load_model, resolve
    from corpus.train.generate import find_tokenizer

    if os.path.exists(args.out) and os.listdir(args.out):
        raise TrainError(f"{args.out} exists and is not empty: name a new folder")
    path = resolve(args.ckpt)
    model, trainer = load_model(path)
    tok = find_tokenizer(trainer, args.tokenizer)
    hf = to_hf(model, tok.eos_id)
    os.makedirs(args.out, exist_ok=True)
    hf.save_pretrained(args.out)
    with open(os.path.join(args.out, "spm.model"), "wb") as f:
        f.write(tok.model)
    hf_tokenizer(tok).save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "unk_token": "<unk>",
                   "bos_token": "<s>", "add_bos_token": False, "add_eos_token": False,
                   "model_max_length": model.cfg.seq_len, "clean_up_tokenization_spaces": False}, f, indent=2)
    with open(os.path.join(args.out, "corpus_export.json"), "w", encoding="utf-8") as f:
        json.dump({"checkpoint": os.path.abspath(path), "step": trainer.get("step"),
                   "tokenizer_sha256": tok.sha256, "vocab_size_tokenizer": tok.vocab_size,
                   "note": "exact whitespace round trip: decode with spm.model (corpus.tokens.Tokenizer)"},
                  f, indent=2)
    print(f"wrote {args.out}: LlamaForCausalLM ({model.num_params() / 1e6:.1f}M parameters, step "
          f"{trainer.get('step')}) and the tokenizer")
    return 0
