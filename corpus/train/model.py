"""A decoder-only transformer: pre-norm blocks (RMSNorm), rotary position embeddings,
causal attention through PyTorch's scaled_dot_product_attention (flash attention on GPUs),
a SwiGLU (or GELU) MLP, and optionally the input embedding tied to the output projection.

Presets go from `tiny` (CPU tests) to WeLM's shapes (1.3B, 2.7B, 10B; context 2048).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int
    n_head: int
    d_model: int
    vocab_size: int = 62000
    seq_len: int = 2048
    mlp: str = "swiglu"           # swiglu | gelu
    d_ff: int | None = None       # default: 4 d for GELU, 8/3 d (rounded up to 256) for SwiGLU
    tie_embeddings: bool = True
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def ffn_dim(self) -> int:
        if self.d_ff:
            return self.d_ff
        if self.mlp == "gelu":
            return 4 * self.d_model
        return 256 * math.ceil(8 * self.d_model / 3 / 256)


PRESETS = {
    "tiny": ModelConfig(n_layer=2, n_head=4, d_model=64, seq_len=128),
    "125m": ModelConfig(n_layer=12, n_head=12, d_model=768),
    "350m": ModelConfig(n_layer=24, n_head=16, d_model=1024),
    "1.3b": ModelConfig(n_layer=24, n_head=16, d_model=2048),   # WeLM 1.3B
    "2.7b": ModelConfig(n_layer=32, n_head=32, d_model=2560),   # WeLM 2.7B
    "10b": ModelConfig(n_layer=32, n_head=40, d_model=5120),    # WeLM 10B
}


def preset(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return x32.type_as(x) * self.weight.type_as(x)


def rope_tables(cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of each position's angle for each of head_dim / 2 frequencies."""
    half = cfg.head_dim // 2
    freqs = cfg.rope_theta ** (-torch.arange(half, dtype=torch.float32) / half)
    angles = torch.outer(torch.arange(cfg.seq_len, dtype=torch.float32), freqs)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (first half, second half) pairs of each head's channels; x is (B, H, T, D)."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, cache: "KVCache | None" = None, layer: int = 0):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        if cache is None:
            q, k = apply_rope(q, cos[:T], sin[:T]), apply_rope(k, cos[:T], sin[:T])
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # decoding: positions pos.. of the new tokens, keys and values of all so far
            pos = cache.pos
            cos, sin = cos[pos:pos + T], sin[pos:pos + T]
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            keys, values = cache.update(layer, k, v)
            mask = None if T == 1 else torch.ones(T, pos + T, dtype=torch.bool, device=x.device).tril(pos)
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class KVCache:
    """Keys and values of every layer for the positions decoded so far (generation): each new
    token attends to them instead of recomputing the whole prefix, so decoding n tokens costs
    O(n) forward steps of one token each."""

    def __init__(self, cfg: "ModelConfig", batch: int, max_len: int, device=None, dtype=torch.float32):
        shape = (batch, cfg.n_head, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layer)]
        self.pos = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        end = self.pos + k.shape[2]
        if end > self.k[layer].shape[2]:
            raise ValueError(f"the cache holds {self.k[layer].shape[2]} positions, {end} asked")
        self.k[layer][:, :, self.pos:end] = k
        self.v[layer][:, :, self.pos:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gated = cfg.mlp == "swiglu"
        hidden = cfg.ffn_dim
        self.up = nn.Linear(cfg.d_model, 2 * hidden if self.gated else hidden, bias=False)
        self.down = nn.Linear(hidden, cfg.d_model, bias=False)

    def forward(self, x):
        h = self.up(x)
        if self.gated:
            gate, value = h.chunk(2, dim=-1)
            return self.down(F.silu(gate) * value)
        return self.down(F.gelu(h, approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache: KVCache | None = None, layer: int = 0):
        x = x + self.attn(self.attn_norm(x), cos, sin, cache, layer)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig, activation_checkpointing: bool = False):
        super().__init__()
        if cfg.mlp not in ("swiglu", "gelu"):
            raise ValueError(f"mlp must be swiglu or gelu, got {cfg.mlp!r}")
        self.cfg = cfg
        self.activation_checkpointing = activation_checkpointing
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.weight
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, 0.02) weights; the projections into the residual stream scaled down by
        sqrt(2 n_layer) (GPT-2), so the stream's variance does not grow with depth."""
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * self.cfg.n_layer) if name.endswith(("proj.weight", "down.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, T, V), or the mean cross-entropy when `targets` are given. With a `cache`
        (generation), `idx` continues the positions the cache holds, and the cache grows."""
        x = self.embed(idx)
        if cache is not None:
            for i, block in enumerate(self.blocks):
                x = block(x, self.rope_cos, self.rope_sin, cache, i)
            cache.pos += idx.shape[1]
            return self.head(self.norm(x))
        for block in self.blocks:
            if self.activation_checkpointing and self.training:
                x = checkpoint(block, x, self.rope_cos, self.rope_sin, use_reentrant=False)
            else:
                x = block(x, self.rope_cos, self.rope_sin)
        logits = self.head(self.norm(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token: 6 N for the matmul weights N (every weight but the embedding
    lookup; the output projection counts, tied or not) plus 12 L d T for attention scores and
    values (PaLM's MFU accounting, causal masking not subtracted)."""
    d, L = cfg.d_model, cfg.n_layer
    mlp = (3 if cfg.mlp == "swiglu" else 2) * d * cfg.ffn_dim
    n = L * (4 * d * d + mlp) + cfg.vocab_size * d
    return 6 * n + 12 * L * d * seq_len
