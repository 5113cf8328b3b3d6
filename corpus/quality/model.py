"""A trained quality model: P(__label__hq) of documents, and a per-process cache of models.

    QualityModel.load(path)            a trained model (.ftz or .bin)
    QualityModel.score_many(texts, langs) -> [P(__label__hq)]
    cached_model(path)                 QualityModel.load once per Python process (Spark tasks)
"""

from __future__ import annotations

import json
import os
from typing import Sequence

from corpus.quality.features import tokenize
from corpus.quality.params import train_params

LABEL_HQ = "__label__hq"
LABEL_LQ = "__label__lq"
MODEL_NAMES = ("model.ftz", "model.bin")


class QualityModel:
    """A fastText model with the tokenizer settings it was trained with."""

    def __init__(self, model, max_tokens: int, path: str | None = None):
        self.model = model
        self.max_tokens = int(max_tokens)
        self.path = path

    @classmethod
    def load(cls, path: str, max_tokens: int | None = None) -> "QualityModel":
        """A model file; its tokenizer settings come from `report.json` beside it when there
        is one (else `quality.train.max_tokens`). A folder means its model.ftz or model.bin."""
        import fasttext

        if os.path.isdir(path):
            for name in MODEL_NAMES:
                if os.path.exists(os.path.join(path, name)):
                    path = os.path.join(path, name)
                    break
            else:
                raise FileNotFoundError(f"{path}: no {' or '.join(MODEL_NAMES)}")
        if max_tokens is None:
            max_tokens = train_params()["max_tokens"]
            report = os.path.join(os.path.dirname(path), "report.json")
            if os.path.exists(report):
                with open(report, encoding="utf-8") as f:
                    max_tokens = json.load(f).get("tokenizer", {}).get("max_tokens", max_tokens)
        model = fasttext.load_model(path)
        labels = set(model.get_labels())
        if LABEL_HQ not in labels:
            raise ValueError(f"{path}: not a quality model (labels {sorted(labels)}; needs {LABEL_HQ})")
        return cls(model, max_tokens, path)

    def lines(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[str]:
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} langs")
        return [tokenize(t or "", lang, self.max_tokens) for t, lang in zip(texts, langs)]

    def score_lines(self, lines: Sequence[str]) -> list[float]:
        """P(hq) of already tokenized lines; an empty line scores 0.0."""
        nonempty = [i for i, line in enumerate(lines) if line]
        scores = [0.0] * len(lines)
        if nonempty:
            labels, probs = self.model.predict([lines[i] for i in nonempty], k=2)
            for i, labs, ps in zip(nonempty, labels, probs):
                p = dict(zip(labs, ps)).get(LABEL_HQ)
                if p is None:  # k=2 of a two-label model always has it; 1 - P(other) otherwise
                    p = 1.0 - float(sum(ps))
                scores[i] = min(1.0, max(0.0, float(p)))
        return scores

    def score_many(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[float]:
        """P(__label__hq) of each text (lang per text, or None to decide from the text)."""
        return self.score_lines(self.lines(texts, langs))

    def score(self, text: str, lang: str | None = None) -> float:
        return self.score_many([text], [lang])[0]

    def save(self, path: str) -> None:
        self.model.save_model(path)
        self.path = path


_MODELS: dict[str, QualityModel] = {}


def cached_model(path: str) -> QualityModel:
    """`QualityModel.load(path)`, once per process (executors keep it between tasks)."""
    model = _MODELS.get(path)
    if model is None:
        model = _MODELS[path] = QualityModel.load(path)
    return model
