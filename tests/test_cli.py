"""The command line: --version, --stages spelled with commas and spaces."""

import argparse

import pytest

from corpus import __version__
from corpus.cli import _main, add_run_arguments


def stages_of(*argv: str) -> list[str]:
    p = argparse.ArgumentParser()
    add_run_arguments(p)
    args = p.parse_args(["-o", "out", *argv])
    return " ".join(args.stages).replace(",", " ").split()


def test_stages_take_commas_and_spaces():
    assert stages_of("--stages", "ingest,clean") == ["ingest", "clean"]
    assert stages_of("--stages", "ingest, clean") == ["ingest", "clean"]
    assert stages_of("--stages", "ingest,", "clean", "dedup") == ["ingest", "clean", "dedup"]
    with pytest.raises(SystemExit):
        stages_of("--stages", " , ")


def test_version_and_stage_help(capsys):
    with pytest.raises(SystemExit) as e:
        _main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"corpus {__version__}"
    with pytest.raises(SystemExit):
        _main(["run", "--help"])
    assert "ingest, clean, dedup, decontaminate, balance" in " ".join(capsys.readouterr().out.split())


def test_bad_uri_scheme_is_one_line(tmp_path, capsys):
    from corpus.cli import main

    assert main(["run", "-i", "warc:zzz://x/a.warc.gz", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == ("corpus: error: zzz://x/a.warc.gz: unknown URI scheme 'zzz' (use a local path, file://, "
                   "http(s)://, s3://, s3a://, gs://, hdfs://... or another scheme fsspec knows)\n")
    assert main(["stats", "zzz://bucket/run"]) == 2 and capsys.readouterr().err.count("\n") == 1
    assert main(["--debug", "stats", "zzz://bucket/run"]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_run_that_keeps_nothing_says_so(spark, tmp_path, capsys):
    from corpus.cli import main

    src = tmp_path / "empty.jsonl"
    src.write_text('{"text": ""}\n{"text": "  "}\n')
    assert main(["run", "-i", f"jsonl:{src}", "-o", str(tmp_path / "r"), "--stages", "ingest"]) == 0
    err = capsys.readouterr().err
    assert "corpus: WARNING: the last stage, ingest, kept 0 of 2 documents" in err


def test_a_vocabulary_size_the_sample_cannot_give_is_one_line(spark, sample_run, tmp_path, capsys):
    import shutil

    from corpus.cli import main

    run = tmp_path / "run"
    shutil.copytree(sample_run, run)
    for size, hint in (("40", "or more (or a lower tokenizer.character_coverage)"), ("900000", "or less, or train on a bigger run")):
        assert main(["train-tokenizer", str(run), "--force", "--set", f"tokenizer.vocab_size={size}"]) == 2
        err = capsys.readouterr().err  # a progress line, then the error
        assert "Traceback" not in err
        last = err.splitlines()[-1]
        assert last.startswith(f"corpus: error: tokenizer: tokenizer.vocab_size={size} is ") and hint in last


def test_every_flag_of_every_command_has_help(monkeypatch):
    """`corpus --help` and each subcommand's: every argument says what it is, and a flag with
    a default shows it."""
    captured = {}

    def capture(self, argv=None, namespace=None):
        captured["parser"] = self
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(SystemExit):
        _main(["run"])
    missing = []

    def walk(parser, name):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub, p in a.choices.items():
                    walk(p, f"{name} {sub}")
            elif not isinstance(a, argparse._HelpAction):
                shown = a.default in (None, False, [], argparse.SUPPRESS) or "default" in (a.help or "")
                if not a.help or not shown:
                    missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")

    walk(captured["parser"], "corpus")
    assert not missing, missing


def test_a_missing_predecessor_is_one_line(tmp_path, capsys):
    from corpus.cli import main

    assert main(["run", "-o", str(tmp_path / "r"), "--stages", "dedup"]) == 2
    err = capsys.readouterr().err
    assert err == ("corpus: error: dedup needs clean, which is not committed in this run: run it first "
                   "(--stages ingest,clean,dedup)\n")
