"""corpus: clean, deduplicated, decontaminated pretraining data on Spark.

Importing the library never starts Spark; `corpus.spark` does that on demand.
"""

__version__ = "0.1.0"
