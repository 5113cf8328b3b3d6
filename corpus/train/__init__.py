"""GPU pretraining on exported token shards (`python -m corpus.train`, `corpus-train`).

    model.py        the decoder-only transformer (RoPE, RMSNorm, SDPA, SwiGLU) and its presets
    data.py         batches from memory-mapped shards at a restorable cursor
    parallel.py     torchrun process group, DDP/FSDP, full state dicts
    checkpoint.py   atomic checkpoints and exact resume
    metrics.py      tokens/s, MFU, memory, JSON lines
    loop.py         arguments and the training loop
"""
