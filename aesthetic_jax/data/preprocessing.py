"""Image preprocessing ops (numpy/PIL, run in the input pipeline's workers and by the Scorer).

method.md section 1: warp (resize, aspect ratio not kept) to 256x256, a random 227x227 crop
plus horizontal flip for training, the centre crop for evaluation. Sizes come from config.
Decoding is data.image_io's, the same for the builders, training and scoring.
"""

import numpy as np

from aesthetic_jax.data import image_io


def decode_and_warp(image_bytes: bytes, size: int) -> np.ndarray:
  """Encoded image bytes -> uint8 (size, size, 3) RGB as a viewer shows the image (EXIF
  orientation, any mode; image_io.decode_rgb), warped (no aspect-ratio preservation). A JPEG
  decodes at a reduced scale (>= size, draft mode): much faster for big photos.

  Raises image_io.ImageReadError for a file that is not a readable image, or too large.
  """
  return image_io.warp(image_io.decode_rgb(image_bytes, draft_size=size), size)


def random_crop_and_flip(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
  """uint8 (S, S, 3) -> uint8 (crop, crop, 3): a uniformly placed crop, flipped with p = 0.5."""
  height, width = image.shape[:2]
  top = rng.integers(0, height - crop + 1)
  left = rng.integers(0, width - crop + 1)
  image = image[top:top + crop, left:left + crop]
  if rng.random() < 0.5:
    image = image[:, ::-1]
  return np.ascontiguousarray(image)


def center_crop(image: np.ndarray, crop: int) -> np.ndarray:
  """uint8 (S, S, 3) -> uint8 (crop, crop, 3) from the centre."""
  height, width = image.shape[:2]
  top, left = (height - crop) // 2, (width - crop) // 2
  return np.ascontiguousarray(image[top:top + crop, left:left + crop])


def stored_image(record) -> np.ndarray | bytes:
  """A record's image as stored: uint8 (H, W, 3) pixels for a raw-pixel record (configs
  *_raw256, read with or without TFDS's decoding), else the encoded bytes."""
  image = record['image']
  if 'image_shape' in record and not isinstance(image, np.ndarray):
    image = np.frombuffer(image, np.uint8).reshape(tuple(int(d) for d in record['image_shape']))
  return image
