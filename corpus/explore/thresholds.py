"""The thresholds the rule sets put on each signal, found by probing the rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path


def rules_dir_for(cfg: Mapping | None) -> Path:
    """The rules folder of a configuration (`clean.rules_dir`, relative to the project), else
    the packaged rules/ folder."""
    from corpus.config import RULES_DIR, project_path

    rel = ((cfg or {}).get("clean") or {}).get("rules_dir")
    return project_path(rel) if rel else RULES_DIR


def rule_thresholds(signal: str, rules_dir: str | Path, langs: Iterable[str] | None = None) -> list[dict]:
    """The thresholds the rule sets of a rules folder put on one signal (see all_thresholds),
    optionally only those of rule sets serving one of `langs`."""
    want = None if langs is None else set(langs)
    return [dict(t) for t in all_thresholds(rules_dir)
            if t["signal"] == signal and (want is None or want & set(t["lang"].split(",")))]


def all_thresholds(rules_dir: str | Path) -> list[dict]:
    """Every threshold of every rule set (corpus.quality.rules) in a rules folder:
    [{lang, rule, signal, bound, value, source}]: `bound` is "min" (documents below are
    dropped) or "max" (above are dropped); `source` is None for a set's own rules, else the
    document source whose override changes the value; `lang` the set's languages, joined by ",".

    The rules engine keeps which signal a parameter bounds in code (`Rule.check`), so each rule
    is probed: a threshold is a parameter value v where moving one signal from just below v to
    just above it flips the rule's verdict and the drop detail names that signal."""
    return [dict(t) for t in _thresholds(str(Path(rules_dir).resolve()))]


@lru_cache(maxsize=8)
def _thresholds(rules_dir: str) -> tuple:
    from corpus.quality.ruleset import load_rulesets

    sets = {id(rs): rs for rs in load_rulesets(rules_dir).values()}
    out = []
    for ruleset in sets.values():
        lang = ",".join(ruleset.langs) or Path(ruleset.origin).stem
        base = set()
        for rule in ruleset.rules:
            for signal, bound, value in probe_rule(rule):
                base.add((rule.name, signal, bound, value))
                out.append({"lang": lang, "rule": rule.name, "signal": signal, "bound": bound,
                            "value": value, "source": None})
        for source, rules in sorted(ruleset.overrides.items()):
            for rule in rules:
                for signal, bound, value in probe_rule(rule):
                    if (rule.name, signal, bound, value) not in base:
                        out.append({"lang": lang, "rule": rule.name, "signal": signal, "bound": bound,
                                    "value": value, "source": source})
    return tuple(out)


_PROBE_TEXTS = (
    ("The committee met on Tuesday to review the plan. It agreed that the work should start in May "
     "and that the costs have to be shared with the city.\nMembers of the public were invited to "
     "comment. Several of them asked about the schedule, and the chair said it would be published "
     "soon.\nA final vote is expected next month, after the budget has been approved by the council."),
    "".join(chr(0x4E00 + (i * 37) % 5000) + ("。\n" if i % 40 == 39 else "") for i in range(400)),
    "",
)


def probe_rule(rule) -> list[tuple[str, str, float]]:
    """(signal, bound, value) for each threshold of one rule object (see all_thresholds)."""
    from corpus.quality.doc import Doc

    values = sorted({float(v) for v in _numbers(getattr(rule, "config", {}))})
    bases = []
    for text in _PROBE_TEXTS:
        for lang in ("en", "zh"):
            try:
                bases.append(dict(rule.signals(Doc(text, lang=lang))))
            except Exception:  # noqa: BLE001, S112 - a rule that cannot measure a probe gives nothing
                continue
    if not bases or not values:
        return []
    variants = list(bases)  # gates (min_units, min_hits...) open when another signal is huge or 0
    for b in bases:
        for key in b:
            variants += [{**b, key: 1e12}, {**b, key: 0.0}]
    found = []
    for key in sorted(bases[0]):
        for v in values:
            eps = max(abs(v) * 1e-6, 1e-9)
            for b in variants:
                below, above = _check(rule, {**b, key: v - eps}), _check(rule, {**b, key: v + eps})
                if (below is None) != (above is None) and key in (below or above):
                    found.append((key, "min" if below is not None else "max", v))
                    break
    return found


def _check(rule, signals: dict) -> str | None:
    try:
        return rule.check(signals)
    except Exception:  # noqa: BLE001 - a probe outside what the rule expects
        return None


def _numbers(node) -> list[float]:
    if is_number(node):
        return [node]
    if isinstance(node, Mapping):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, (list, tuple)) and len(node) < 50:
        return [x for v in node for x in _numbers(v)]
    return []


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
