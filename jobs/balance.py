"""spark-submit entrypoint for the balance stage alone (topic labels, mixture rates, sized
shards); same arguments as `corpus run`.

    spark-submit --master spark://host:7077 jobs/balance.py --output s3a://bucket/runs/cc --set balance.alpha=0.3
"""

import argparse

from corpus.cli import add_run_arguments, run_command
from corpus.spark import run_and_exit  # stop Spark, flush, exit with the status

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="jobs/balance.py", description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    run_and_exit(lambda: run_command(parser.parse_args(), stages_default=["balance"]))
