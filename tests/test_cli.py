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
