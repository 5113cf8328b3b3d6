"""The topic taxonomy (rules/topics.yaml): topic names, descriptions, and how labelled data maps
onto them.

    load_taxonomy(path) -> Taxonomy     checked; a problem is one ConfigError line naming the
                                         file and the key
    Taxonomy.topics                      topic names in file order, the fallback included
    Taxonomy.topic_of(model_label)       the topic of a classifier label (see `model_label`)

The classifier is trained on *model labels*, one per labelled class of each data set, and the
taxonomy maps them onto topics: `thucnews:stocks` and `thucnews:finance` both mean `finance`,
`source:books` means `literature`, `topic:NAME` (user-labelled data) means NAME. So a model
trained on the ten THUCNews classes can be scored on them as they are (10-class accuracy) and
used at the level of the taxonomy (the probabilities of a topic's labels add up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from corpus.config_schema import ConfigError

LABEL_SCHEMES = ("thucnews", "sources")   # the keys of a topic's `labels`
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")   # topic and class names: no spaces (fastText labels)
_SCHEME_PREFIX = {"thucnews": "thucnews", "sources": "source"}


def model_label(scheme: str, name: str) -> str:
    """The classifier's label for class `name` of a labelling scheme: `thucnews:stocks`,
    `source:books`, `topic:finance` (scheme "topic": data labelled with topic names)."""
    return f"{_SCHEME_PREFIX.get(scheme, scheme)}:{name}"


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Taxonomy:
    path: str
    fallback: str
    by_name: Mapping[str, Topic]

    @property
    def topics(self) -> list[str]:
        """Topic names in file order, the fallback included."""
        return list(self.by_name)

    def label_map(self) -> dict[str, str]:
        """Model label -> topic for every labelled class the taxonomy names, and `topic:NAME`
        for every topic."""
        out = {model_label("topic", name): name for name in self.by_name}
        for topic in self.by_name.values():
            for scheme, names in topic.labels.items():
                for name in names:
                    out[model_label(scheme, name)] = topic.name
        return out

    def topic_of(self, label: str) -> str:
        """The topic of a model label; ConfigError when the taxonomy has none for it."""
        topic = self.label_map().get(label)
        if topic is None:
            raise ConfigError(f"{self.path}: no topic for the classifier's label {label!r} "
                              f"(add it to a topic's labels)")
        return topic

    def source_topics(self) -> dict[str, str]:
        """Source kind -> topic (weak labels)."""
        return {kind: t.name for t in self.by_name.values() for kind in t.labels.get("sources", ())}


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read and check a taxonomy file (module docstring); relative paths are relative to the
    project directory."""
    from corpus.config import load_yaml, project_path

    full = project_path(path)
    data = load_yaml(full)
    return parse_taxonomy(data, str(path))


def parse_taxonomy(data: object, where: str) -> Taxonomy:
    """The Taxonomy of a parsed YAML document; `where` names it in errors."""
    def fail(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: {msg}")

    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping with `fallback` and `topics`")
    unknown = set(data) - {"fallback", "topics"}
    if unknown:
        raise fail(sorted(unknown)[0], "unknown key (expected fallback, topics)")
    fallback = data.get("fallback")
    if not isinstance(fallback, str) or not fallback:
        raise fail("fallback", "expected a topic name")
    topics = data.get("topics")
    if not isinstance(topics, Mapping) or not topics:
        raise fail("topics", "expected a mapping of topic names to {description, labels}")
    by_name: dict[str, Topic] = {}
    owner: dict[str, str] = {}
    for name, spec in topics.items():
        key = f"topics.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise fail(key, "topic names are lower-case letters, digits and _, starting with a letter")
        if not isinstance(spec, Mapping):
            raise fail(key, "expected a mapping with description and labels")
        extra = set(spec) - {"description", "labels"}
        if extra:
            raise fail(f"{key}.{sorted(extra)[0]}", "unknown key (expected description, labels)")
        desc = spec.get("description")
        if not isinstance(desc, str) or not desc.strip():
            raise fail(f"{key}.description", "expected a non-empty string")
        labels = spec.get("labels") or {}
        if not isinstance(labels, Mapping):
            raise fail(f"{key}.labels", f"expected a mapping of {' / '.join(LABEL_SCHEMES)} to lists")
        checked: dict[str, tuple[str, ...]] = {}
        for scheme, names in labels.items():
            lkey = f"{key}.labels.{scheme}"
            if scheme not in LABEL_SCHEMES:
                raise fail(lkey, f"unknown label scheme (expected {', '.join(LABEL_SCHEMES)})")
            if not isinstance(names, list) or not names or not all(isinstance(n, str) and _NAME.match(n) for n in names):
                raise fail(lkey, "expected a non-empty list of class names (lower-case, no spaces)")
            for n in names:
                label = model_label(scheme, n)
                if label in owner:
                    raise fail(lkey, f"{n!r} is already mapped to topic {owner[label]!r}")
                owner[label] = name
            checked[scheme] = tuple(names)
        if name == fallback and checked:
            raise fail(f"{key}.labels", "the fallback topic takes no labels")
        by_name[name] = Topic(name, desc.strip(), checked)
    if fallback not in by_name:
        raise fail("fallback", f"{fallback!r} is not among the topics")
    return Taxonomy(where, fallback, by_name)
