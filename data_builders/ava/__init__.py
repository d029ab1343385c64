"""AVA (Murray et al., CVPR 2012). The builder is `data_builders.ava.ava.Ava`.

Nothing is imported here, so the stats command and the image workers stay free of TFDS.
"""
