"""Image preprocessing ops (numpy/PIL, run in the input pipeline's workers).

method.md section 1: warp (resize, aspect ratio not kept) to 256x256, a random 227x227 crop
plus horizontal flip for training, the centre crop for evaluation. Sizes come from config.
"""

import io

import numpy as np
from PIL import Image


def decode_and_warp(image_bytes: bytes, size: int) -> np.ndarray:
  """JPEG/PNG bytes -> uint8 (size, size, 3) RGB, warped (no aspect-ratio preservation)."""
  with Image.open(io.BytesIO(image_bytes)) as image:
    # JPEG draft mode decodes at a reduced scale (>= the target size): much faster for big photos.
    image.draft('RGB', (size, size))
    image = image.convert('RGB')
    if image.size != (size, size):
      image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image)


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
