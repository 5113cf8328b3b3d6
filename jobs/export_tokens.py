"""spark-submit entrypoint for the token export; same arguments as `corpus export-tokens`.

    spark-submit --master spark://host:7077 jobs/export_tokens.py s3a://bucket/runs/cc --set tokens.seq_len=2048
"""

import argparse

from corpus.spark import run_and_exit  # stop Spark, flush, exit with the status
from corpus.tokens.cli import add_arguments, run_job

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="jobs/export_tokens.py", description=__doc__.splitlines()[0])
    add_arguments(parser, "tokens.seq_len=4096")
    run_and_exit(lambda: run_job(parser.parse_args(), "tokens"))
