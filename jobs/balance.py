"""spark-submit entrypoint for the balance stage alone (topic labels, mixture rates, sized
shards); same arguments as `corpus run`.

    spark-submit --master spark://host:7077 jobs/balance.py --output s3a://bucket/runs/cc --set balance.alpha=0.3
"""

import argparse
import sys

from corpus.cli import add_run_arguments, run_command

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="jobs/balance.py", description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    sys.exit(run_command(parser.parse_args(), stages_default=["balance"]))
