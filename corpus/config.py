"""Configuration: packaged defaults, a user's YAML file on top, then `--set` overrides.

Keys are addressed by dotted paths (`ingest.warc.reader`). An override of a key that does not
exist in the defaults is an error, so a typo cannot silently do nothing.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

def project_dir(candidates: Iterable[Path] | None = None) -> Path:
    """Where `rules/` and `models/` are: the checkout this package runs from (an editable
    install), else `<prefix>/share/corpus` where a wheel installs them."""
    candidates = candidates or (Path(__file__).resolve().parent.parent,
                                Path(sys.prefix) / "share" / "corpus")
    for root in candidates:
        if (root / "rules" / "pipeline.yaml").is_file():
            return root
    raise RuntimeError(f"rules/pipeline.yaml not found in {', '.join(map(str, candidates))}")


PROJECT_DIR = project_dir()
RULES_DIR = PROJECT_DIR / "rules"
DEFAULTS = RULES_DIR / "pipeline.yaml"


def project_path(path: str | Path) -> Path:
    """A configured path: absolute, or relative to the project directory (holding rules/ and
    models/)."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_DIR / p


# Mappings that accept any key (besides those empty in the defaults, e.g. `extract: {}`).
OPEN_SECTIONS = {"spark.conf", "clean.langid.aliases"}


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the culprit."""


def load_yaml(path: str | Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None


def merge(base: dict, update: Mapping, where: str, strict: bool = True) -> dict:
    """Deep-merge `update` into a copy of `base`; unknown keys are errors when `strict`."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in out:
            if strict and out and where not in OPEN_SECTIONS:
                raise ConfigError(f"unknown config key '{path}'")
            out[key] = copy.deepcopy(value)
        elif isinstance(out[key], dict) and out[key] and isinstance(value, Mapping):
            out[key] = merge(out[key], value, path, strict)
        elif isinstance(out[key], dict) and out[key] and value is not None:
            raise ConfigError(f"config key '{path}' must be a mapping, got {value!r}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b.c=VALUE` -> (['a','b','c'], value parsed as YAML, e.g. 3, true, [x, y])."""
    key, eq, raw = item.partition("=")
    if not eq or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    keys = key.strip().split(".")
    if keys[:2] == ["spark", "conf"] and len(keys) > 2:  # Spark's own keys contain dots
        keys = ["spark", "conf", ".".join(keys[2:])]
    return keys, value


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> dict:
    """The resolved configuration: defaults, then the file at `path`, then each override."""
    cfg = load_yaml(DEFAULTS)
    if path:
        user = load_yaml(path)
        if not isinstance(user, Mapping):
            raise ConfigError(f"{path}: top level must be a mapping")
        try:
            cfg = merge(cfg, user, "")
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
    for item in overrides:
        keys, value = parse_override(item)
        nested: Any = value
        for k in reversed(keys):
            nested = {k: nested}
        try:
            cfg = merge(cfg, nested, "")
        except ConfigError as e:
            raise ConfigError(f"--set {item}: {e}") from None
    return cfg
