"""From documents to what a GPU trains on: the SentencePiece tokenizer, packed token shards.

    tokenizer.py         training and the exact-round-trip Tokenizer (numpy ids)
    source.py            which committed stage of a run is read, and each document's seeded key
    train_tokenizer.py   `corpus train-tokenizer RUN_DIR` -> RUN_DIR/tokenizer/spm.model
    pack.py              tokenizing Arrow batches, packing documents into fixed-length sequences
    shards.py            the shard format (flat binary + JSON manifest): writer and reader
    export.py            `corpus export-tokens RUN_DIR` (Spark) -> RUN_DIR/tokens/
    cli.py               their command-line arguments
"""
