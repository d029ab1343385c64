"""The paper's tables as experiments: each row (configs/<table>.py) trained with N seeds,
every run reused when it is already done, and a results table with means, confidence
intervals and paired tests against the table's baseline row, next to the paper's figures.

  tables.py      which tables exist (the `configs` package), their rows and baselines
  runner.py      trains the rows' runs and gathers their results
  statistics.py  means, bootstrap intervals and paired tests over seeds and test images
  results.py     results.md and results.csv
Command line: aesthetic_jax/cli/experiments.py (`python -m aesthetic_jax.experiments`).
"""
