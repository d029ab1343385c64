"""Tiny AVA and Photo.net manual dirs, written at test time (nothing is copied from the
real datasets: their authors ask that the data not be redistributed).

Every bad case of the builders' contract is present: missing, empty, truncated and
undecodable images; grayscale and CMYK JPEGs; PNG and GIF files under a .jpg name; short and
malformed lines; an unknown tag id; rows with zero votes; a repeated id.
"""

import io
import pathlib

import numpy as np
from PIL import Image

# Image kinds (what tests/ expect for each is in the constants below).
GOOD, GRAY, CMYK, PNG, GIF = 'good', 'gray', 'cmyk', 'png', 'gif'
TRUNCATED, EMPTY, UNDECODABLE, MISSING = 'truncated', 'empty', 'undecodable', 'missing'


def image_bytes(kind: str, seed: int, size=(48, 36)) -> bytes | None:
  """The bytes of a small image of `kind` (None for MISSING)."""
  rng = np.random.default_rng(seed)
  # A smooth gradient plus noise: big enough that a half file cannot decode.
  y, x = np.mgrid[:size[1], :size[0]]
  base = np.stack([x * 255 // size[0], y * 255 // size[1], (x + y) % 256], -1)
  pixels = np.clip(base + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)
  image = Image.fromarray(pixels)
  buffer = io.BytesIO()
  if kind in (GOOD, TRUNCATED):
    image.save(buffer, 'JPEG', quality=90)
  elif kind == GRAY:
    image.convert('L').save(buffer, 'JPEG', quality=90)
  elif kind == CMYK:
    image.convert('CMYK').save(buffer, 'JPEG', quality=90)
  elif kind == PNG:
    image.save(buffer, 'PNG')
  elif kind == GIF:
    image.convert('P').save(buffer, 'GIF')
  elif kind == EMPTY:
    return b''
  elif kind == UNDECODABLE:
    return b'<html>404 Not Found</html>\n' * 8
  elif kind == MISSING:
    return None
  else:
    raise ValueError(kind)
  data = buffer.getvalue()
  return data[:len(data) // 2] if kind == TRUNCATED else data


def write_images(image_dir: pathlib.Path, kinds: dict[int, str]) -> None:
  image_dir.mkdir(parents=True, exist_ok=True)
  for image_id, kind in kinds.items():
    data = image_bytes(kind, image_id, size=(40 + image_id % 7 * 4, 30 + image_id % 5 * 4))
    if data is not None:
      (image_dir / f'{image_id}.jpg').write_bytes(data)


def votes_for(spec: dict[int, int], num_bins: int) -> list[int]:
  """{score: count} -> a histogram over scores 1..num_bins."""
  return [spec.get(s, 0) for s in range(1, num_bins + 1)]


# ----------------------------------------------------------------------------------------- AVA

AVA_TAGS = {1: 'Abstract', 2: 'Cityscape', 3: 'Fashion', 4: 'Family', 14: 'Landscape',
            15: 'Nature'}
AVA_CHALLENGES = {10: 'Ten', 11: 'Eleven'}

# image id -> (votes {score: count}, tag1, tag2, challenge, image kind)
AVA_ROWS = {
    1001: ({5: 2, 6: 2}, 14, 15, 10, GOOD),  # mean 5.5
    1002: ({3: 4}, 14, 0, 10, GRAY),  # 3.0
    1003: ({5: 3}, 14, 1, 10, CMYK),  # exactly 5.0
    1004: ({8: 1, 9: 1}, 14, 0, 11, PNG),  # 8.5
    1005: ({7: 2}, 15, 1, 11, GIF),  # 7.0
    1006: ({4: 1, 5: 1}, 14, 2, 10, TRUNCATED),  # 4.5
    1007: ({2: 1, 6: 1}, 15, 1, 10, EMPTY),  # 4.0
    1008: ({6: 5}, 1, 0, 10, UNDECODABLE),  # 6.0
    1009: ({10: 1}, 14, 15, 10, MISSING),  # 10.0
    1010: ({5: 1}, 2, 3, 10, GOOD),  # only dropped tags: not in `paper`
    1011: ({1: 1, 2: 1}, 0, 0, 10, GOOD),  # no tags: not in `paper`
    1012: ({1: 1, 9: 1}, 99, 15, 10, GOOD),  # unknown tag 99; exactly 5.0
    1016: ({6: 1, 7: 1}, 14, 14, 11, GOOD),  # the same tag twice; 6.5
    1017: ({2: 3, 9: 1}, 1, 0, 9999, GOOD),  # unknown challenge; 3.75
    1018: ({6: 3, 7: 1}, 14, 0, 11, GOOD),  # 6.25
    1019: ({3: 1, 4: 2}, 15, 0, 11, GOOD),  # 3.666..
    1020: ({7: 4, 8: 4}, 1, 14, 11, GOOD),  # 7.5
}
AVA_ZERO_VOTES_ID = 1013  # tagged 14, but no votes: skipped before tags are counted
AVA_BAD_LINES = [
    f'{AVA_ZERO_VOTES_ID} 0 0 0 0 0 0 0 0 0 0 14 0 10',  # zero votes
    '1014 0 0 1 2',  # short
    '1015 0 0 1 2 x 0 0 0 0 0 14 0 10',  # malformed
    '1001 9 9 9 9 9 9 9 9 9 9 1 1 10',  # repeated id (the first line wins)
]
AVA_OFFICIAL_TEST = [1002, 1010, 1016, 1017, 5555]  # 5555 is not in AVA.txt

AVA_MIN_TAG_IMAGES = 2  # keeps tags on >= 3 images: 1 (x6), 14 (x9), 15 (x6), not 2 (x2)
AVA_KEPT_TAGS = [1, 14, 15]
AVA_SELECTED = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1012, 1016, 1017, 1018,
                1019, 1020]
AVA_NUM_TEST = 5
AVA_SKIPPED = {'truncated': [1006], 'empty_file': [1007], 'undecodable': [1008],
               'missing_file': [1009]}
AVA_CONVERTED = {'grayscale_jpeg': [1002], 'cmyk_jpeg': [1003], 'png_not_jpeg': [1004],
                 'gif_not_jpeg': [1005]}


def ava_lines() -> list[str]:
  lines = []
  for image_id, (votes, tag1, tag2, challenge, _) in AVA_ROWS.items():
    fields = [image_id] + votes_for(votes, 10) + [tag1, tag2, challenge]
    lines.append(' '.join(map(str, fields)))
  lines[3:3] = AVA_BAD_LINES  # in the middle of the file
  return [f'{index} {line}' for index, line in enumerate(lines, start=1)]


def ava_mean(image_id: int) -> float:
  votes = votes_for(AVA_ROWS[image_id][0], 10)
  return float(np.dot(votes, np.arange(1, 11)) / sum(votes))


def make_ava_manual_dir(root: pathlib.Path, *, with_lists: bool = True,
                        test_list=None) -> pathlib.Path:
  """Writes AVA.txt, tags.txt, challenges.txt, images/ (and the official test list)."""
  root.mkdir(parents=True, exist_ok=True)
  (root / 'AVA.txt').write_text('\n'.join(ava_lines()) + '\n\n')
  (root / 'tags.txt').write_text(''.join(f'{i} {n}\n' for i, n in AVA_TAGS.items()))
  (root / 'challenges.txt').write_text(''.join(f'{i} {n}\n' for i, n in AVA_CHALLENGES.items()))
  write_images(root / 'images', {i: row[4] for i, row in AVA_ROWS.items()})
  if with_lists:
    lists = root / 'aesthetics_image_lists'
    lists.mkdir(exist_ok=True)
    ids = AVA_OFFICIAL_TEST if test_list is None else test_list
    (lists / 'generic_test.jpgl').write_text(''.join(f'{i}\n' for i in ids))
  return root


# ----------------------------------------------------------------------------------- Photo.net

# photo id -> (number of ratings, stated mean, counts of 1..7 or None for -1s, image kind)
PHOTONET_ROWS = {
    2001: (12, '5.5', {4: 2, 5: 4, 6: 5, 7: 1}, GOOD),
    2002: (10, '4.2', None, GOOD),  # -1 in columns 5-12
    2003: (11, '6.1', {5: 2, 6: 6, 7: 2}, GRAY),  # counts sum to 10, not 11
    2004: (12, '4.58', {3: 1, 4: 5, 5: 4, 6: 2}, GOOD),  # appears twice (identical rows)
    2005: (15, '5', {4: 5, 5: 5, 6: 5}, GOOD),  # exactly 5
    2006: (20, '6.45', {6: 11, 7: 9}, PNG),
    2007: (10, '3.9', {3: 2, 4: 7, 5: 1}, TRUNCATED),
    2008: (13, '5.9', {5: 2, 6: 10, 7: 1}, EMPTY),
    2009: (14, '5.2', {4: 2, 5: 7, 6: 5}, MISSING),
    2010: (10, '6.0', {6: 10}, GOOD),
    2011: (10, '4.0', {4: 10}, CMYK),
    2012: (10, '5.3', {5: 7, 6: 3}, GOOD),
    2013: (10, '4.9', {4: 1, 5: 9}, UNDECODABLE),
    2014: (11, '5.64', {5: 4, 6: 7}, GOOD),
}
PHOTONET_BAD_LINES = [
    '2020 10 5.1 0.1 0 0 1',  # short
    '2021 10 5.1 0.1 0 0 0 a 5 5 0',  # malformed
    '2022 0 0 -1 -1 -1 -1 -1 -1 -1 -1',  # zero ratings
]
PHOTONET_NUM_TEST = 4
# Available = a file exists (even if it cannot be decoded): every row but the missing 2009.
PHOTONET_AVAILABLE = [2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2010, 2011, 2012, 2013,
                      2014]


def photonet_lines() -> list[str]:
  lines = []
  for photo_id, (count, mean, votes, _) in PHOTONET_ROWS.items():
    if votes is None:
      tail = ['-1'] * 8
    else:
      hist = votes_for(votes, 7)
      scores = np.arange(1, 8)
      variance = float(np.dot(hist, (scores - np.dot(hist, scores) / sum(hist)) ** 2)
                       / sum(hist))
      tail = [repr(variance)] + [str(v) for v in hist]
    lines.append(' '.join([str(photo_id), str(count), mean] + tail))
    if photo_id == 2004:
      lines.append(lines[-1])
  lines[6:6] = PHOTONET_BAD_LINES
  return [f'{index} {line}' for index, line in enumerate(lines, start=1)]


def make_photonet_manual_dir(root: pathlib.Path) -> pathlib.Path:
  root.mkdir(parents=True, exist_ok=True)
  (root / 'photonet_dataset.txt').write_text('\n'.join(photonet_lines()) + '\n')
  write_images(root / 'images', {i: row[3] for i, row in PHOTONET_ROWS.items()})
  return root
