"""Benchmarks against reference tools (see bench/README.md). Each one runs as
`python bench/NAME.py` or `python -m bench.NAME`; shared helpers are imported as
`from bench.NAME import ...`."""
