"""`corpus train-quality` (also `python -m corpus.quality.cli`): train the quality classifier.

    corpus train-quality --positive SPEC... --negative SPEC... --output DIR [--set KEY=VALUE]...
"""

from __future__ import annotations

import argparse
import sys


def add_train_quality_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `corpus train-quality`."""
    p.add_argument("--positive", "-p", nargs="+", action="extend", required=True, metavar="SPEC",
                   help="high-quality documents: KIND:URI (as `corpus run --input`) or "
                        "dropped:RUN_DIR[#reason,...]")
    p.add_argument("--negative", "-n", nargs="+", action="extend", required=True, metavar="SPEC",
                   help="low-quality documents, same forms; e.g. dropped:runs/cc#reason_a,reason_b")
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="folder for model.ftz (or model.bin) and report.json")
    p.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. quality.train.epoch=25 or "
                        "ingest.books.max_chars=50000 (training keys: quality.train.*)")


def train_quality_command(args: argparse.Namespace) -> int:
    """`corpus train-quality`: train, write the model and its report; 2 on bad input."""
    from corpus.config import ConfigError, load_config
    from corpus.inputs import InputError
    from corpus.quality.train import train_quality

    try:
        cfg = load_config(args.config, args.overrides)
        train_quality(args.positive, args.negative, args.output, cfg)
    except (ConfigError, InputError, ValueError) as e:
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.quality.cli",
                                     description="train the fastText quality classifier")
    add_train_quality_arguments(parser)
    return train_quality_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
