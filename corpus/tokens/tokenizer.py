"""The SentencePiece tokenizer: trained so that every text round-trips exactly.

    train_model(lines, params) -> model bytes
    Tokenizer(model bytes) / Tokenizer.load(path)
    tok.encode(text) / tok.encode_batch(texts) / tok.decode(ids)
    cached_tokenizer(model) -> one Tokenizer per process and model (Spark executors)

Whitespace is text: the trainer sees no normalization (`identity`), keeps runs of spaces
(`remove_extra_whitespaces=False`, whitespace-only pieces allowed, so code indentation
becomes pieces), adds no dummy space in front, and has `\\n` and `\\t` as user-defined
pieces. Any character outside the vocabulary falls back to its UTF-8 bytes. One character
SentencePiece cannot keep by itself is U+2581 (▁), its own stand-in for the space: decoding
turns it into a space, so `encode` spells a literal ▁ with its three byte pieces.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

SPACE_MARK = "\u2581"
# Options that make decode(encode(text)) == text; not configurable.
EXACT_OPTIONS = {
    "normalization_rule_name": "identity",
    "remove_extra_whitespaces": False,
    "add_dummy_prefix": False,
    "allow_whitespace_only_pieces": True,
    "byte_fallback": True,
    "user_defined_symbols": ["\n", "\t"],
    "unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1,
}
# Trainer options a run may set (`tokenizer.*` in rules/pipeline.yaml).
TRAINER_KEYS = ("vocab_size", "model_type", "character_coverage", "split_digits",
                "max_sentencepiece_length", "num_threads")
MAX_LINE_CHARS = 4096  # longer lines reach the trainer cut in pieces (it skips long sentences)


def train_lines(texts: Iterable[str], max_chars: int = MAX_LINE_CHARS) -> Iterable[str]:
    """The trainer's sentences: the non-empty lines of each text, long lines cut."""
    for text in texts:
        for line in text.split("\n"):
            for i in range(0, len(line), max_chars):
                yield line[i:i + max_chars]


def train_model(texts: Iterable[str], params: Mapping) -> bytes:
    """Train on `texts` (documents, in a fixed order) with the trainer options in `params`;
    the same texts and options give the same bytes."""
    import sentencepiece as spm

    out = io.BytesIO()
    options = {k: params[k] for k in TRAINER_KEYS if k in params}
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(train_lines(texts)), model_writer=out,
            max_sentence_length=4 * MAX_LINE_CHARS, minloglevel=2, **options, **EXACT_OPTIONS)
    except RuntimeError as e:
        raise vocabulary_error(str(e), options.get("vocab_size")) or e
    return out.getvalue()


def vocabulary_error(message: str, vocab_size) -> Exception | None:
    """SentencePiece's complaint about `vocab_size` as a one-line StageError saying which size
    to use; None for any other error."""
    from corpus.stages.base import StageError

    if m := re.search(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)", message):
        return StageError(f"tokenizer: tokenizer.vocab_size={m.group(1)} is more pieces than this run's "
                          f"sample can give (at most {m.group(2)}): use --set tokenizer.vocab_size="
                          f"{m.group(2)} or less, or train on a bigger run")
    if m := re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", message):
        return StageError(f"tokenizer: tokenizer.vocab_size={m.group(1)} is fewer pieces than the {m.group(2)} "
                          f"characters and byte pieces the sample needs: use --set tokenizer.vocab_size="
                          f"{m.group(2)} or more (or a lower tokenizer.character_coverage)")
    return None


class Tokenizer:
    """A SentencePiece model with exact round trips; ids are numpy arrays."""

    def __init__(self, model: bytes):
        import sentencepiece as spm

        self.model = model
        self.sha256 = hashlib.sha256(model).hexdigest()
        self.sp = spm.SentencePieceProcessor(model_proto=model)
        self.vocab_size = self.sp.get_piece_size()
        self.eos_id = self.sp.eos_id()
        self.dtype = np.dtype("<u2" if self.vocab_size <= 1 << 16 else "<u4")
        self._mark = [self.sp.piece_to_id(f"<0x{b:02X}>") for b in SPACE_MARK.encode("utf-8")]

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        import fsspec

        from corpus.io import fsspec_uri

        with fsspec.open(fsspec_uri(path), "rb") as f:
            return cls(f.read())

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text, as arrays of `self.dtype`."""
        plain = [i for i, t in enumerate(texts) if SPACE_MARK not in t]
        out: list = [None] * len(texts)
        for i, ids in zip(plain, self.sp.encode([texts[i] for i in plain])):
            out[i] = np.asarray(ids, dtype=self.dtype)
        for i, t in enumerate(texts):
            if out[i] is None:
                out[i] = self._encode_with_marks(t)
        return out

    def _encode_with_marks(self, text: str) -> np.ndarray:
        ids: list[int] = []
        for k, part in enumerate(text.split(SPACE_MARK)):
            if k:
                ids += self._mark
            ids += self.sp.encode(part)
        return np.asarray(ids, dtype=self.dtype)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return self.sp.decode([int(i) for i in ids])


_TOKENIZERS: dict[str, Tokenizer] = {}


def cached_tokenizer(model: bytes) -> Tokenizer:
    """`Tokenizer(model)`, built once per process for each model (executors keep it)."""
    key = hashlib.sha256(model).hexdigest()
    tok = _TOKENIZERS.get(key)
    if tok is None:
        tok = _TOKENIZERS[key] = Tokenizer(model)
    return tok
