"""Every command-line entry point, on one flag library (absl + ml_collections config_flags).

`python -m aesthetic_jax.<command>` runs `cli/<module>.py` through `entry.run`, which makes
the process-wide XLA:CPU setting (aesthetic_jax.xla_cpu) before JAX starts: the library
modules themselves change nothing in the process when imported.

  main         cli/train.py        train and evaluate a config (resumes from --workdir)
  predict      cli/predict.py      score image files and folders with a trained model
  export       cli/export.py       a trained model's inference as one jax.export file
  weights      cli/weights.py      torchvision ImageNet weights -> the Flax backbones
  data         cli/data.py         build AVA / Photo.net / synthetic TFDS datasets
  experiments  cli/experiments.py  train the rows of a paper table, with statistics
  analyze      cli/analyze.py      the paper's figures from finished runs
  bench        cli/bench.py        speed and memory, beside PyTorch
"""
