"""spark-submit entrypoint for the ingest stage alone; same arguments as `corpus run`."""

import argparse

from corpus.cli import add_run_arguments, run_command
from corpus.spark import run_and_exit  # stop Spark, flush, exit with the status

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="jobs/ingest.py", description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    run_and_exit(lambda: run_command(parser.parse_args(), stages_default=["ingest"]))
