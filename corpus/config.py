"""Configuration: packaged defaults, a user's YAML file on top, then `--set` overrides.

Keys are addressed by dotted paths (`ingest.warc.reader`). The defaults are `rules/pipeline.yaml`
and nothing else; `corpus.config_schema` checks every layer, so an unknown key, a wrong type or
a value out of range fails in `load_config`, before Spark starts, naming the file or `--set`
item and the key.

The rule sets are part of the configuration: `rules.<name>` holds the contents of
`<clean.rules_dir>/<name>.yaml` (`zh`, `en`, `default`), so
`--set rules.zh.rules.min_length.min_chars=50` changes a threshold and
`--set rules.zh.overrides.forums.min_length.min_chars=5` a per-source one; a `--config` file
may carry a `rules:` section of the same shape. They are checked with the rules' own
parameter checks (`corpus.quality.ruleset`).
"""

from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from corpus.config_schema import SCHEMA, ConfigError

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
DEFAULTS_FILE = RULES_DIR / "pipeline.yaml"


def project_path(path: str | Path) -> Path:
    """A configured path: absolute, or relative to the project directory (holding rules/ and
    models/)."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_DIR / p


def load_yaml(path: str | Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(e).split())}") from None


def merge(base: Mapping, update: Mapping, where: str = "", strict: bool = True) -> dict:
    """Deep-merge `update` into a copy of `base` (a null section changes nothing); with
    `strict`, a key that `base` lacks is an error (for sections that have no schema)."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        path = f"{where}.{key}" if where else str(key)
        if strict and key not in out:
            raise ConfigError(f"unknown config key '{path}'")
        if isinstance(out.get(key), dict) and isinstance(value, Mapping):
            out[key] = merge(out[key], value, path, strict)
        elif not (isinstance(out.get(key), dict) and value is None):
            out[key] = copy.deepcopy(value)
    return out


def parse_override(item: str) -> tuple[list, Any]:
    """`a.b.c=VALUE` -> (['a','b','c'], value parsed as YAML, e.g. 3, true, [x, y]). Spark's
    own keys keep their dots (`spark.conf.spark.sql.shuffle.partitions`); numeric parts are
    integers (`rules.zh.rules.top_ngrams.max_frac.2`)."""
    key, eq, raw = item.partition("=")
    if not eq or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    keys: list = key.strip().split(".")
    if keys[:2] == ["spark", "conf"] and len(keys) > 2:
        return ["spark", "conf", ".".join(keys[2:])], value
    return [int(k) if k.isdigit() else k for k in keys], value


def nest(keys: list, value: Any) -> dict:
    """(['a', 'b'], 1) -> {'a': {'b': 1}}."""
    for k in reversed(keys):
        value = {k: value}
    return value


@functools.lru_cache(maxsize=1)
def _defaults() -> dict:
    cfg = load_yaml(DEFAULTS_FILE)
    _check(cfg, str(DEFAULTS_FILE))
    return cfg


def defaults(section: str = "") -> dict:
    """A copy of the defaults of a dotted section (`ingest.books`), for library callers
    without a configuration."""
    node: Any = _defaults()
    for part in filter(None, section.split(".")):
        node = node[part]
    return copy.deepcopy(node)


def section(dotted: str, cfg: Mapping | None = None) -> dict:
    """The defaults of a dotted section with `cfg` (a part of it, or None) merged on top,
    checked: for library callers given a partial section or none."""
    if cfg is not None and not isinstance(cfg, Mapping):
        raise ConfigError(f"{dotted} must be a mapping, got {cfg!r}")
    out = merge(defaults(dotted), cfg or {}, strict=False)
    SCHEMA.at(dotted).check(out, dotted)
    return out


def _check(cfg: Mapping, origin: str) -> None:
    try:
        SCHEMA.check(cfg, "")
    except ConfigError as e:
        raise ConfigError(f"{origin}: {e}") from None


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> dict:
    """The resolved configuration: defaults, then the file at `path`, then each override,
    each layer checked; then `rules`: the rule files of `clean.rules_dir` with the `rules`
    parts of the layers on top."""
    from corpus.quality.ruleset import build_rulesets, read_rule_files

    layers: list[tuple[str, Mapping]] = []
    if path:
        user = load_yaml(path)
        if not isinstance(user, Mapping):
            raise ConfigError(f"{path}: top level must be a mapping")
        layers.append((str(path), user))
    layers += [(f"--set {item}", nest(*parse_override(item))) for item in overrides]
    cfg, rule_layers = defaults(), []
    for origin, update in layers:
        update = dict(update)
        if "rules" in update:
            rule_layers.append((origin, update.pop("rules")))
        cfg = merge(cfg, update, strict=False)
        _check(cfg, origin)
    rules_dir = project_path(cfg["clean"]["rules_dir"])
    rules = read_rule_files(rules_dir)
    build_rulesets(rules, rules_dir, str(rules_dir))
    for origin, update in rule_layers:
        if not isinstance(update, Mapping):
            raise ConfigError(f"{origin}: rules must be a mapping of rule set name -> rule set, "
                              f"got {update!r}")
        rules = merge(rules, update, strict=False)
        build_rulesets(rules, rules_dir, origin)
    cfg["rules"] = rules
    return cfg
