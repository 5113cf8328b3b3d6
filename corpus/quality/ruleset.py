"""Rule sets: one YAML file per language under `rules/`, an ordered list of configured rules
with per-source overrides (the format: `corpus.quality.rules`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from corpus.config import RULES_DIR, ConfigError, load_yaml
from corpus.quality.doc import Doc
from corpus.quality.rules import RULES, Rule

# ------------------------------------------------------------------------------- rule sets

RULESET_KEYS = ("langs", "rules", "overrides", "description")


class RuleSet:
    """Ordered rules for one language (and per-source variants of them)."""

    def __init__(self, rules: list[Rule], overrides: Mapping[str, list[Rule]] | None = None,
                 langs: Iterable[str] = (), origin: str = "<inline>"):
        self.rules = list(rules)
        self.overrides = dict(overrides or {})
        self.langs = tuple(langs)
        self.origin = origin

    @property
    def reasons(self) -> list[str]:
        """Every reason this set can give, base rules first."""
        names = [r.name for r in self.rules]
        for rules in self.overrides.values():
            names += [r.name for r in rules if r.name not in names]
        return names

    def rules_for(self, source: str | None) -> list[Rule]:
        return self.overrides.get(source, self.rules) if source else self.rules

    # -- loading
    @classmethod
    def from_yaml(cls, path: str | Path) -> RuleSet:
        path = Path(path)
        return cls.from_dict(load_yaml(path), str(path), path.parent, default_lang=path.stem)

    @classmethod
    def from_dict(cls, data: Any, origin: str = "<inline>", base_dir: str | Path = RULES_DIR,
                  default_lang: str | None = None, key: str = "") -> RuleSet:
        """A rule set from the contents of a rule file; errors name `origin` and the dotted
        key (`key` is its prefix in the configuration, e.g. `rules.zh.`)."""
        base_dir = Path(base_dir)
        at, label = f"{origin}: {key}", f"{origin}: {key.rstrip('.')}" if key else origin
        if not isinstance(data, Mapping):
            raise ConfigError(f"{label}: expected a mapping, got {type(data).__name__}")
        for name in data:
            if name not in RULESET_KEYS:
                raise ConfigError(f"{at}{name}: unknown key {name!r} (known: {', '.join(RULESET_KEYS)})")
        langs = data.get("langs", [default_lang] if default_lang else [])
        if isinstance(langs, str):
            langs = [langs]
        if not isinstance(langs, list) or not all(isinstance(x, str) and x for x in langs):
            raise ConfigError(f"{at}langs: expected a list of language codes, got {langs!r}")
        rules_cfg = data.get("rules")
        if not isinstance(rules_cfg, Mapping) or not rules_cfg:
            raise ConfigError(f"{at}rules: expected a mapping of rule name -> parameters, "
                              f"got {rules_cfg!r}")
        parsed: dict[str, tuple[type[Rule], dict] | None] = {}
        for name, raw in rules_cfg.items():
            where = f"{at}rules.{name}"
            rule_cls = RULES.get(name)
            if rule_cls is None:
                raise ConfigError(f"{where}: unknown rule {name!r} (known: {', '.join(sorted(RULES))})")
            if raw is False:
                parsed[name] = None
                continue
            rule = rule_cls.from_config(raw, where, base_dir)
            parsed[name] = (rule_cls, rule.config)
        rules = [rule_cls(**values) for rule_cls, values in filter(None, parsed.values())]

        overrides_cfg = data.get("overrides") or {}
        if not isinstance(overrides_cfg, Mapping):
            raise ConfigError(f"{at}overrides: expected a mapping of source -> rule changes, "
                              f"got {overrides_cfg!r}")
        overrides: dict[str, list[Rule]] = {}
        for source, changes in overrides_cfg.items():
            if not isinstance(changes, Mapping):
                raise ConfigError(f"{at}overrides.{source}: expected a mapping of rule -> "
                                  f"parameters (or false), got {changes!r}")
            variant = dict(parsed)
            for name, raw in changes.items():
                where = f"{at}overrides.{source}.{name}"
                if name not in parsed:
                    raise ConfigError(f"{where}: rule {name!r} is not in this file's rules "
                                      f"(overrides change listed rules only)")
                if raw is False:
                    variant[name] = None
                    continue
                rule_cls = RULES[name]
                base = parsed[name][1] if parsed[name] else None
                rule = rule_cls.from_config(raw, where, base_dir, base=base)
                variant[name] = (rule_cls, rule.config)
            overrides[str(source)] = [c(**v) for c, v in filter(None, variant.values())]
        return cls(rules, overrides, langs, label)

    # -- judging
    def apply(self, doc: Doc | Mapping) -> tuple[str | None, str | None, dict[str, float]]:
        """(reason, detail, signals): the first failing rule in order (None, None when all
        pass) and the signals of every rule."""
        rules, signals = self._measure(doc)
        for rule in rules:
            detail = rule.check(signals)
            if detail is not None:
                return rule.name, detail, signals
        return None, None, signals

    def explain(self, doc: Doc | Mapping) -> list[tuple[str, str]]:
        """Every failing rule, in order, with its detail (for notebooks and tuning)."""
        rules, signals = self._measure(doc)
        return [(r.name, d) for r in rules if (d := r.check(signals)) is not None]

    def _measure(self, doc: Doc | Mapping) -> tuple[list[Rule], dict[str, float]]:
        """The rules that apply to the document's source, and the signals of all of them."""
        if not isinstance(doc, Doc):
            doc = Doc.from_row(doc)
        rules = self.rules_for(doc.source)
        signals: dict[str, float] = {}
        for rule in rules:
            signals.update(rule.signals(doc))
        return rules, signals

    def __repr__(self) -> str:
        return f"RuleSet({self.origin}, langs={list(self.langs)}, rules={[r.name for r in self.rules]})"


def read_rule_files(rules_dir: str | Path = RULES_DIR) -> dict[str, dict]:
    """The rule files of `rules_dir` (YAML files with a `rules:` key; other YAML files such as
    pipeline.yaml are skipped) as data, by file name (`zh`, `en`, `default`); each is checked
    here, so a bad file fails naming itself."""
    rules_dir = Path(rules_dir)
    out: dict[str, dict] = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        data = load_yaml(path)
        if isinstance(data, Mapping) and "rules" in data:
            RuleSet.from_dict(data, str(path), path.parent, default_lang=path.stem)
            out[path.stem] = data
    return out


def build_rulesets(rules: Mapping[str, Any], base_dir: str | Path = RULES_DIR,
                   origin: str = "config") -> dict[str, RuleSet]:
    """The rule sets of the configuration's `rules` section (rule file name -> its contents),
    keyed by each language they serve; the set under "default" serves every other language.
    Errors name `origin` and the dotted key (`rules.zh.rules.min_length.min_chars`); word lists
    are read relative to `base_dir` (the rules directory)."""
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{origin}: rules must be a mapping of rule set name -> rule set, "
                          f"got {rules!r}")
    out: dict[str, RuleSet] = {}
    for name, data in rules.items():
        ruleset = RuleSet.from_dict(data, origin, base_dir, default_lang=str(name),
                                    key=f"rules.{name}.")
        for lang in ruleset.langs or (str(name),):
            lang = lang.lower()
            if lang in out:
                raise ConfigError(f"{origin}: rules.{name}: language {lang!r} is already served "
                                  f"by {out[lang].origin}")
            out[lang] = ruleset
    if "default" not in out:
        raise ConfigError(f"{origin}: no default rule set (rules.default, default.yaml)")
    return out


def load_rulesets(rules_dir: str | Path = RULES_DIR) -> dict[str, RuleSet]:
    """The rule sets of the files in `rules_dir`, keyed by each language they serve."""
    return build_rulesets(read_rule_files(rules_dir), rules_dir, str(rules_dir))


def pick_ruleset(rulesets: Mapping[str, RuleSet], lang: str | None) -> RuleSet:
    """The rule set for a language code: exact ("zh-hant"), then the primary subtag ("zh"),
    then "default"."""
    if lang:
        lang = lang.lower().replace("_", "-")
        if lang in rulesets:
            return rulesets[lang]
        primary = lang.split("-", 1)[0]
        if primary in rulesets:
            return rulesets[primary]
    return rulesets["default"]
