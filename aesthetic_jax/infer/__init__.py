"""Inference: the Scorer (the Python API of scoring), scoring many files with one row per
file (batch_scoring, files), writing CSV/JSON (output), the demo and scoring benchmark
(demo), and jax.export files loadable with numpy and jax alone (export)."""
