"""Command-line plumbing shared by `corpus train-tokenizer` and `corpus export-tokens`."""

from __future__ import annotations

import argparse
import sys
from typing import Callable


def add_arguments(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override a config key, e.g. {example}")
    p.add_argument("--master", metavar="URL", help="Spark master (default: spark.master, local[*])")


def run_job(args: argparse.Namespace, job: Callable) -> int:
    """Resolve the config, get a Spark session and call `job(run_dir, cfg, spark)`."""
    from corpus.config import ConfigError, load_config
    from corpus.spark import get_session
    from corpus.tokens.export import ExportError
    from corpus.tokens.source import SourceError

    try:
        cfg = load_config(args.config, args.overrides)
        job(args.run_dir, cfg, get_session(cfg["spark"], args.master))
    except (ConfigError, SourceError, ExportError, FileNotFoundError) as e:
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    return 0
