"""TFDS builders for aesthetic_jax: AVA, Photo.net and the embedded synthetic dataset.

Every builder writes `array_record` files (readable without TensorFlow) whose records
follow the contract in `data_builders.common`.
"""
