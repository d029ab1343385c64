"""The embedded synthetic dataset (a demo and test bed, not AVA).

The builder is `data_builders.synthetic.synthetic.SyntheticAesthetics`; the pure pieces it
uses are `quality` (tags, factors, latent quality, votes) and `render` (pixels). Nothing is
imported here, so `quality` and `render` stay free of TFDS.
"""
