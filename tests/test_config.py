"""The configuration schema: every layer checked in load_config, errors naming origin and key."""

from __future__ import annotations

import pytest
import yaml

from corpus.cli import main
from corpus.config import DEFAULTS_FILE, ConfigError, load_config, project_path
from corpus.config_schema import SCHEMA, Section
from corpus.quality.ruleset import build_rulesets, pick_ruleset


def error(path=None, overrides=()) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(path, overrides)
    message = str(e.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("item, expected", [
    ("dedup.simhash.k=abc", "--set dedup.simhash.k=abc: dedup.simhash.k must be an integer "
                            "between 0 and 63, got 'abc'"),
    ("ingest.books.min_chars=-5", "--set ingest.books.min_chars=-5: ingest.books.min_chars "
                                  "must be an integer >= 0, got -5"),
    ("ingest.warc.max_replaced_share=1.5", "ingest.warc.max_replaced_share must be a number "
                                           "between 0 and 1, got 1.5"),
    ("ingest.warc.reader=warcoi", "ingest.warc.reader must be one of fastwarc | warcio, got 'warcoi'"),
    ("decontaminate.action=keep", "decontaminate.action must be one of drop | cut, got 'keep'"),
    ("tokenizer.model_type=wordpiece", "tokenizer.model_type must be one of bpe | unigram"),
    ("ingest.books.max_chars_=5", "unknown key ingest.books.max_chars_"),
    ("run.partitions_per_file=1", "unknown key run.partitions_per_file"),
    ("clean.langid.aliases.wuu=3", "clean.langid.aliases.wuu must be a string, got 3"),
    ("clean.languages=zh", "clean.languages must be a list of strings, got 'zh'"),
    ("dedup.simhash.blocks=many", "dedup.simhash.blocks must be one of auto or an integer"),
    ("decontaminate.min_tokens=20", "decontaminate.min_tokens must be <= n (17), got 20"),
    ("ingest.books.chapter_pattern=(x", "ingest.books.chapter_pattern must be a valid regular"),
])
def test_set_errors_name_the_item_and_the_key(item, expected):
    message = error(overrides=[item])
    assert message.startswith(f"--set {item}: "), message
    assert expected in message, message


def test_file_errors_name_the_file_and_the_key(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("ingest:\n  books:\n    min_chars: -5\n")
    assert error(path) == f"{path}: ingest.books.min_chars must be an integer >= 0, got -5"
    path.write_text("clean:\n  normalise: {}\n")
    assert error(path).startswith(f"{path}: unknown key clean.normalise (known: ")
    path.write_text("ingest:\n  warc:\n    reader: [fastwarc\n")
    assert error(path).startswith(f"{path}: invalid YAML: ")
    path.write_text("- a list\n")
    assert error(path) == f"{path}: top level must be a mapping"


def test_valid_layers_resolve():
    cfg = load_config(None, ["dedup.simhash.k=3", "spark.conf.spark.sql.shuffle.partitions=300",
                             "clean.langid.aliases.cmn=zh", "dedup.simhash.blocks=8"])
    assert cfg["dedup"]["simhash"]["k"] == 3 and cfg["dedup"]["simhash"]["blocks"] == 8
    assert cfg["spark"]["conf"]["spark.sql.shuffle.partitions"] == 300
    assert cfg["clean"]["langid"]["aliases"] == {"wuu": "zh", "yue": "zh", "cmn": "zh"}
    yaml.safe_load(yaml.safe_dump(cfg))  # serialisable (RUN_DIR/config.yaml)


def test_schema_keys_are_the_pipeline_yaml_keys():
    """Every default has a schema entry and every schema entry a default (open maps aside)."""
    def schema_keys(node, path=""):
        for k, field in node.fields.items():
            yield path + k
            if isinstance(field, Section):
                yield from schema_keys(field, f"{path}{k}.")

    def yaml_keys(data, node, path=""):
        for k, v in data.items():
            yield path + k
            if isinstance(node.fields.get(k), Section) and isinstance(v, dict):
                yield from yaml_keys(v, node.fields[k], f"{path}{k}.")

    data = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    assert sorted(schema_keys(SCHEMA)) == sorted(yaml_keys(data, SCHEMA))
    SCHEMA.check(data, "")


def test_rules_are_part_of_the_config():
    cfg = load_config()
    assert set(cfg["rules"]) == {"zh", "en", "default"}
    assert cfg["rules"]["zh"]["rules"]["min_length"] == {"min_chars": 100}
    cfg = load_config(None, ["rules.zh.rules.min_length.min_chars=50",
                             "rules.zh.overrides.forums.min_length.min_chars=5",
                             "rules.en.rules.top_ngrams.max_frac.2=0.25",
                             "rules.zh.rules.line_punct=false"])
    zh = pick_ruleset(build_rulesets(cfg["rules"], project_path(cfg["clean"]["rules_dir"])), "zh")
    rules = {r.name: r for r in zh.rules}
    assert rules["min_length"].min_chars == 50 and "line_punct" not in rules
    assert {r.name: r for r in zh.rules_for("forums")}["min_length"].min_chars == 5
    assert cfg["rules"]["en"]["rules"]["top_ngrams"]["max_frac"] == {2: 0.25, 3: 0.18, 4: 0.16}


def test_rule_errors_name_the_origin_and_the_key(tmp_path):
    message = error(overrides=["rules.zh.rules.min_length.min_chars=-5"])
    assert message.startswith("--set rules.zh.rules.min_length.min_chars=-5: "
                              "rules.zh.rules.min_length.min_chars: "), message
    assert "-5" in message
    assert "unknown rule 'min_lenght'" in error(overrides=["rules.zh.rules.min_lenght.min_chars=5"])
    path = tmp_path / "my.yaml"
    path.write_text("rules:\n  zh:\n    overrides:\n      forums:\n        punct_share: {max: 2}\n")
    message = error(path)
    assert message.startswith(f"{path}: rules.zh.overrides.forums.punct_share.max: "), message


def test_a_users_rules_dir_is_loaded_and_a_bad_rule_file_fails_at_load(tmp_path):
    (tmp_path / "default.yaml").write_text("rules:\n  min_length: {min_chars: 7}\n")
    cfg = load_config(None, [f"clean.rules_dir={tmp_path}"])
    assert cfg["rules"] == {"default": {"rules": {"min_length": {"min_chars": 7}}}}
    (tmp_path / "zh.yaml").write_text("rules:\n  cjk_share: {min: 1.5}\n")
    message = error(overrides=[f"clean.rules_dir={tmp_path}"])
    assert message.startswith(f"{tmp_path / 'zh.yaml'}: rules.cjk_share.min: "), message


def test_config_show_and_check(tmp_path, capsys):
    assert main(["config", "show", "--set", "rules.zh.rules.min_length.min_chars=50"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["rules"]["zh"]["rules"]["min_length"] == {"min_chars": 50}
    assert shown["dedup"]["simhash"]["k"] == 4
    assert main(["config", "show", "--set", "dedup.simhash.k=abc"]) == 2
    assert "corpus: error: --set dedup.simhash.k=abc: dedup.simhash.k" in capsys.readouterr().err
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("dedup:\n  simhash:\n    k: 3\n")
    bad.write_text("dedup:\n  simhash:\n    k: abc\n")
    assert main(["config", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"
    assert main(["config", "check", str(bad)]) == 2
    assert f"{bad}: dedup.simhash.k must be" in capsys.readouterr().err
