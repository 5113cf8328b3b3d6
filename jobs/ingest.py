"""spark-submit entrypoint for the ingest stage alone; same arguments as `corpus run`."""

import argparse
import sys

from corpus.cli import add_run_arguments, run_command

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="jobs/ingest.py", description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    sys.exit(run_command(parser.parse_args(), stages_default=["ingest"]))
