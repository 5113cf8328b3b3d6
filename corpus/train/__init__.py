"""GPU pretraining on exported token shards (`python -m corpus.train`, `corpus-train`).

    model.py        the decoder-only transformer (RoPE, RMSNorm, SDPA, SwiGLU) and its presets
    data.py         batches from memory-mapped shards at a restorable cursor
    parallel.py     torchrun process group, DDP/FSDP, full state dicts
    checkpoint.py   atomic checkpoints and exact resume
    metrics.py      tokens/s, MFU, memory, JSON lines
    loop.py         arguments, the training loop, validation, --dry-run
    generate.py     `corpus generate`: sampling with a KV cache, decoded by the run's tokenizer
    hf_export.py    `corpus export-hf`: a Hugging Face LlamaForCausalLM checkpoint and tokenizer
"""

from corpus.config import ConfigError


class TrainError(ConfigError):
    """A mistake the person running the trainer can fix (a bad flag, missing shards, a
    checkpoint of another model): one line on stderr and exit status 2, no traceback."""
