"""The classifier's training parameters: the `quality.train` section of rules/pipeline.yaml
(documented there), overridable with `--set quality.train.KEY=VALUE`."""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

FASTTEXT_KEYS = ("dim", "epoch", "lr", "wordNgrams", "minCount", "bucket", "loss", "thread")


@lru_cache(maxsize=1)
def _packaged() -> dict:
    from corpus.config import load_config

    return dict(load_config()["quality"]["train"])


def train_params(cfg: Mapping | None = None) -> dict:
    """The packaged `quality.train` parameters under the config's `quality.train` section,
    when it has one."""
    section = ((cfg or {}).get("quality") or {}).get("train") or {}
    return {**_packaged(), **section}


def check_params(params: Mapping) -> None:
    """ValueError naming the keys of `params` that are no training parameter."""
    unknown = set(params) - set(_packaged())
    if unknown:
        raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
