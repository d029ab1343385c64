"""Photo.net (Datta et al., ECCV 2006). The builder is `data_builders.photonet.photonet.Photonet`.

Nothing is imported here, so the stats command stays free of TFDS.
"""
