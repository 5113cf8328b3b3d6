"""`corpus train-topics` (also `python -m corpus.topics.cli`): train and evaluate the topic
classifier; writes OUT/model.ftz, OUT/report.json and OUT/README.md (the model card).

    corpus train-topics [--out DIR] [--data FILE.jsonl]... [--config FILE] [--set KEY=VALUE]...
"""

from __future__ import annotations

import argparse
import sys


def add_train_topics_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `corpus train-topics`."""
    p.add_argument("--out", "-o", default="models/topics", metavar="DIR",
                   help="folder for model.ftz, report.json and README.md (default: models/topics)")
    p.add_argument("--data", action="append", default=[], metavar="FILE.jsonl",
                   help='user-labelled documents, one JSON object a line: {"title": ..., "text": ..., '
                        '"topic": ...} (a topic of the taxonomy); repeatable')
    p.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. topics.train.epoch=30 or topics.train.eval=dev_split")


def train_topics_command(args: argparse.Namespace) -> int:
    """`corpus train-topics`: train, evaluate, write the model, its report and card; 2 on bad input."""
    from corpus.config import ConfigError, load_config
    from corpus.inputs import InputError
    from corpus.topics.train import train_topics

    try:
        cfg = load_config(args.config, args.overrides)
        train_topics(args.out, cfg, args.data)
    except (ConfigError, InputError, ValueError, OSError) as e:
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.topics.cli",
                                     description="train the fastText topic classifier")
    add_train_topics_arguments(parser)
    return train_topics_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
