"""Analyses of finished runs, as PNG figures plus the data they show (CSV/JSON/NPZ).

One module per figure of Kao, He and Huang (IEEE TIP 2017): correlation (Fig. 9, subtask
correlations from Omega), per_tag (Fig. 5, per-tag accuracy of several runs), filters
(Fig. 7, conv1 filters of two runs), examples (Fig. 8, test images one run gets right and
another wrong), curves (training curves); runs reads a run's workdir; report draws the set
that belongs to a table of aesthetic_jax.experiments. Command line: aesthetic_jax.analyze.
"""
