"""`corpus train-tokenizer` and `corpus export-tokens`: shorthands for running the `tokenizer`
and `tokens` stages of a run (corpus.stages.tokens) and printing their report."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run directory whose documents are tokenized")
    p.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override a config key, e.g. {example}")
    p.add_argument("--master", metavar="URL", help="Spark master (default: spark.master, local[*])")
    p.add_argument("--force", action="store_true", help="redo the stage even if it is committed")


def run_job(args: argparse.Namespace, stage: str) -> int:
    """Run `stage` in the run directory, then print its report."""
    from corpus.config import ConfigError, load_config
    from corpus.pipeline import StageError, run_pipeline
    from corpus.rundir import RunDir

    try:
        cfg = load_config(args.config, args.overrides)
        run_pipeline(args.run_dir, [], cfg, [stage], args.master, args.force)
    except (ConfigError, StageError) as e:
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    run = RunDir(args.run_dir)
    with run.fs.open(run.path(run.stage_dirs(stage)["report"]), "r") as f:
        print(json.dumps(json.load(f), indent=2, ensure_ascii=False))
    return 0
