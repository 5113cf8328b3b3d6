"""The `corpus` command: `corpus run` builds a corpus, `corpus stats` prints its funnel,
`corpus config show|check` prints or checks a configuration, `corpus train-quality` trains the
quality classifier, `corpus train-topics` the topic classifier, `corpus train-tokenizer` and `corpus export-tokens` turn a run into token
shards for `corpus-train`, `corpus report` writes an HTML report of a run directory.

`spark-submit jobs/pipeline.py` takes the same arguments as `corpus run`.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from corpus.config import ConfigError, load_config
from corpus.inputs import InputError
from corpus.io import StorageError
from corpus.progress import MODES, Progress
from corpus.stages.base import StageError

# mistakes a person can fix: one line on stderr, exit status 2 (--debug adds the traceback)
USER_ERRORS = (ConfigError, InputError, StageError, StorageError)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", "-i", nargs="+", action="extend", default=[], metavar="SPEC",
                   help="KIND:URI (kinds: warc wet books news forums jsonl parquet); a bare "
                        ".warc.gz/.warc/.wet.gz path needs no KIND; URIs may be files, folders, "
                        "globs or *.paths.gz listings on any fsspec/Hadoop filesystem "
                        "(needed by the ingest stage)")
    p.add_argument("--output", "-o", required=True, metavar="RUN_DIR", help="run directory")
    p.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key by dotted path, e.g. ingest.warc.reader=warcio")
    from corpus.stages import STAGES

    p.add_argument("--stages", metavar="LIST", nargs="+", type=stage_list, action="extend",
                   help=f"stages separated by commas and/or spaces, run in pipeline order "
                        f"({', '.join(STAGES)}; default: run.stages in the config)")
    p.add_argument("--master", metavar="URL", help="Spark master (default: spark.master, local[*])")
    p.add_argument("--force", action="store_true", help="redo stages that are committed")
    p.add_argument("--progress", choices=MODES, default="auto",
                   help="live progress on stderr: auto (a live line on a terminal, else plain), "
                        "plain (a line every 10 s), json (JSON lines for schedulers) or off "
                        "(default: %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines (same as --progress off)")


def stage_list(text: str) -> str:
    """One `--stages` word: names separated by commas and/or spaces ("ingest, clean"); the
    words are joined (`run_command`)."""
    if not text.replace(",", " ").strip():
        raise argparse.ArgumentTypeError("name at least one stage")
    return text


def run_command(args: argparse.Namespace, stages_default: list[str] | None = None) -> int:
    from corpus.pipeline import print_funnel, run_pipeline

    try:
        cfg = load_config(args.config, args.overrides)
        stages = " ".join(args.stages).replace(",", " ").split() if args.stages else stages_default
        mode = "off" if args.quiet else args.progress
        funnel = run_pipeline(args.output, args.input, cfg, stages, args.master, args.force,
                              progress=Progress(mode))
    except USER_ERRORS as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    print_funnel(funnel)
    last = funnel[-1] if funnel else None
    if last and "kept_docs" in last and not last["kept_docs"]:
        print(f"corpus: WARNING: the last stage, {last['stage']}, kept 0 of {last.get('in_docs', 0)} "
              f"documents: the drop reasons above say why (`corpus stats {args.output}`); loosen "
              "the rule that dropped them, or check the inputs", file=sys.stderr)
    return 0


def stats_command(args: argparse.Namespace) -> int:
    from corpus.ledger import format_funnel
    from corpus.pipeline import read_funnel
    from corpus.rundir import RunDir

    run = RunDir(args.run_dir)
    if not run.fs.exists(run.path("manifest.json")):
        print(f"corpus: error: {args.run_dir} has no committed stage (no manifest.json)",
              file=sys.stderr)
        return 2
    funnel = read_funnel(run)
    print(json.dumps(funnel, indent=2, ensure_ascii=False) if args.json else format_funnel(funnel))
    return 0


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    show = sub.add_parser("show", help="print the resolved configuration (rule sets included) as YAML")
    show.add_argument("--config", "-c", metavar="FILE", help="YAML merged over rules/pipeline.yaml")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a config key by dotted path, e.g. rules.zh.rules.min_length.min_chars=50")
    check = sub.add_parser("check", help="validate a configuration file (exit 0: ok, 2: error)")
    check.add_argument("file", metavar="FILE", help="a YAML file in the shape of rules/pipeline.yaml")


def config_command(args: argparse.Namespace) -> int:
    """`config show`: the resolved configuration as YAML; `config check FILE`: `FILE: ok`."""
    import yaml

    try:
        if args.action == "check":
            load_config(args.file)
            print(f"{args.file}: ok")
        else:
            cfg = load_config(args.config, args.overrides)
            print(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), end="")
    except ConfigError as e:
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `corpus` command. Called with `argv` (tests, other Python code) it returns the exit
    status; called without, as the console script is, it ends the process through the ordered
    shutdown of `corpus.spark.run_and_exit` (Spark stopped, output flushed, real status)."""
    if argv is not None:
        return _main(argv)
    from corpus.spark import run_and_exit

    run_and_exit(_main)


def _main(argv: list[str] | None = None) -> int:
    from corpus import __version__

    parser = argparse.ArgumentParser(prog="corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"corpus {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error, not only its one-line message")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run pipeline stages over inputs into a run directory")
    add_run_arguments(run)
    stats = sub.add_parser("stats", help="print the funnel of a run directory from its ledger")
    stats.add_argument("run_dir", metavar="RUN_DIR", help="a run directory with committed stages")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    add_config_arguments(sub.add_parser("config", help="print the resolved configuration or check a file"))
    from corpus.quality.cli import add_train_quality_arguments, train_quality_command

    tq = sub.add_parser("train-quality", help="train the fastText quality classifier")
    add_train_quality_arguments(tq)
    from corpus.topics.cli import add_train_topics_arguments, train_topics_command

    add_train_topics_arguments(sub.add_parser("train-topics", help="train the fastText topic classifier"))
    from corpus.tokens import cli as tokens_cli

    tt = sub.add_parser("train-tokenizer", help="train the SentencePiece model on a sample of a run")
    tokens_cli.add_arguments(tt, "tokenizer.vocab_size=32000")
    et = sub.add_parser("export-tokens", help="tokenize a run into packed token shards (Spark)")
    tokens_cli.add_arguments(et, "tokens.seq_len=4096 or tokens.stage=clean")
    rep = sub.add_parser("report", help="write one self-contained HTML report of a run directory (no Spark, "
                                        "no network): funnel, drop reasons with examples, source and language "
                                        "mix, quality signals with the rules' thresholds, quality scores, dedup "
                                        "clusters, decontamination hits, topic mix and shards, config, digests")
    rep.add_argument("run_dir", metavar="RUN_DIR", help="a run directory with at least one committed stage")
    rep.add_argument("--output", "-o", metavar="FILE",
                     help="where to write the HTML file (default: RUN_DIR/report.html)")
    from corpus.train import generate, hf_export  # corpus.train's commands (torch imported when run)

    generate.add_arguments(sub.add_parser("generate", help="continue a prompt with a trained checkpoint"))
    hf_export.add_arguments(sub.add_parser("export-hf", help="write a checkpoint as a Hugging Face LlamaForCausalLM"))
    args = parser.parse_args(argv)
    try:
        return _dispatch(args, tokens_cli, train_quality_command, train_topics_command)
    except USER_ERRORS as e:
        if args.debug:
            traceback.print_exc()
        print(f"corpus: error: {e}", file=sys.stderr)
        return 2


def _dispatch(args, tokens_cli, train_quality_command, train_topics_command) -> int:
    if args.command == "run":
        return run_command(args)
    if args.command == "config":
        return config_command(args)
    if args.command == "train-quality":
        return train_quality_command(args)
    if args.command == "train-topics":
        return train_topics_command(args)
    if args.command == "train-tokenizer":
        return tokens_cli.run_job(args, "tokenizer")
    if args.command == "export-tokens":
        return tokens_cli.run_job(args, "tokens")
    if args.command == "report":
        from corpus.report import build_report

        print(f"report: {build_report(args.run_dir, args.output)}")
        return 0
    if args.command in ("generate", "export-hf"):
        from corpus.train import generate, hf_export

        return (generate.generate_command if args.command == "generate" else hf_export.export_hf_command)(args)
    return stats_command(args)


if __name__ == "__main__":
    main()  # leaves the process itself, with the command's status
