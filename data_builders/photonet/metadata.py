"""Photo.net's metadata file (Datta, Joshi, Li and Wang, ECCV 2006) and the paper's split.

`photonet_dataset.txt`, whitespace separated, 12 columns: index, photo id, number of ratings,
mean rating, variance, then the counts of ratings 1..7 (method.md section 1). Its known
defects, and what is done with each (every one is reported, none is silent):
  * -1 in columns 5-12 (no distribution; 1,173 rows): kept, `votes` stored as zeros;
  * counts that do not sum to the number of ratings: kept as given; `num_votes` is column 3
    and the label source is the stated mean (column 4), as the paper's labels are;
  * a repeated photo id (2985331, rows 5639-5640, identical): the first row is kept.
Split (Kao et al., TIP 2017): a fixed-seed random 3,000 of the photos whose file exists are
test, the rest train (the paper uses the ~17k photos still available).

Shared by the builder (`photonet.py`) and the stats command (`stats.py`).
"""

import dataclasses
import os
from typing import Iterable

import numpy as np

from data_builders.common import skip_report as report_lib

NUM_BINS = 7  # ratings 1..7
SCORE_MIN, SCORE_MAX = 1, 7
NUM_FIELDS = 12
LABEL_THRESHOLD = 5.0
NUM_TEST = 3000
SPLIT_SEED = 0

DATASET_TXT = 'photonet_dataset.txt'
IMAGES_DIR = 'images'

SHORT_LINE = 'short_line'
MALFORMED_LINE = 'malformed_line'
ZERO_VOTES = 'zero_votes'
DUPLICATE_ID = 'duplicate_id'
NO_DISTRIBUTION = 'no_distribution'
COUNTS_MISMATCH = 'counts_mismatch'


@dataclasses.dataclass(frozen=True)
class PhotonetTable:
  """The valid rows, in file order.

  image_id int64 (N,); votes int32 (N, 7) (zeros where the file has -1); mean_score float32
  (N,) the stated mean; num_votes int32 (N,) column 3; has_votes bool (N,); line int64 (N,).
  """
  image_id: np.ndarray
  votes: np.ndarray
  mean_score: np.ndarray
  num_votes: np.ndarray
  has_votes: np.ndarray
  line: np.ndarray

  def __len__(self) -> int:
    return len(self.image_id)


def parse_photonet_lines(lines: Iterable[str], report: report_lib.BuildReport, *,
                         filename: str = DATASET_TXT) -> tuple[PhotonetTable, int]:
  """Parses photonet_dataset.txt lines; every defect goes into `report`.

  Returns:
    (table of the valid rows, number of non-blank lines).
  """
  ids, votes, means, counts, has_votes, line_numbers = [], [], [], [], [], []
  seen = set()
  num_lines = 0
  for number, text in enumerate(lines, start=1):
    fields = text.split()
    if not fields:
      continue
    num_lines += 1
    where = f'{filename}:{number}'
    if len(fields) < NUM_FIELDS:
      report.add(SHORT_LINE, report_lib.SKIPPED, where)
      continue
    try:
      photo_id, num_votes = int(fields[1]), int(fields[2])
      mean = float(fields[3])
      histogram = [int(v) for v in fields[5:12]]
      float(fields[4])
    except ValueError:
      photo_id = None
    if photo_id is None or len(fields) > NUM_FIELDS or photo_id <= 0 or num_votes < 0:
      report.add(MALFORMED_LINE, report_lib.SKIPPED, where)
      continue
    no_distribution = fields[4] == '-1' and all(v == -1 for v in histogram)
    if not no_distribution and min(histogram) < 0:
      report.add(MALFORMED_LINE, report_lib.SKIPPED, where)
      continue
    if not num_votes:
      report.add(ZERO_VOTES, report_lib.SKIPPED, photo_id)
      continue
    if not SCORE_MIN <= mean <= SCORE_MAX:
      report.add(MALFORMED_LINE, report_lib.SKIPPED, where)
      continue
    if photo_id in seen:
      report.add(DUPLICATE_ID, report_lib.SKIPPED, photo_id)
      continue
    seen.add(photo_id)
    if no_distribution:
      report.add(NO_DISTRIBUTION, report_lib.KEPT, photo_id)
      histogram = [0] * NUM_BINS
    elif sum(histogram) != num_votes:
      report.add(COUNTS_MISMATCH, report_lib.KEPT, photo_id)
    ids.append(photo_id)
    votes.append(histogram)
    means.append(mean)
    counts.append(num_votes)
    has_votes.append(not no_distribution)
    line_numbers.append(number)
  table = PhotonetTable(
      image_id=np.asarray(ids, np.int64), votes=np.asarray(votes, np.int32).reshape(-1, NUM_BINS),
      mean_score=np.asarray(means, np.float32), num_votes=np.asarray(counts, np.int32),
      has_votes=np.asarray(has_votes, bool), line=np.asarray(line_numbers, np.int64))
  return table, num_lines


def read_dataset_txt(manual_dir: os.PathLike | str, report: report_lib.BuildReport,
                     ) -> tuple[PhotonetTable, int]:
  with open(os.path.join(os.fspath(manual_dir), DATASET_TXT), encoding='utf-8',
            errors='replace') as f:
    return parse_photonet_lines(f, report)


def image_path(manual_dir: os.PathLike | str, photo_id: int) -> str:
  return os.path.join(os.fspath(manual_dir), IMAGES_DIR, f'{photo_id}.jpg')


def available(manual_dir: os.PathLike | str, image_ids: np.ndarray) -> np.ndarray:
  """bool (N,): a file exists for the photo (whether it decodes is checked when building)."""
  names = set(os.listdir(os.path.join(os.fspath(manual_dir), IMAGES_DIR)))
  return np.asarray([f'{int(i)}.jpg' in names for i in image_ids], bool).reshape(-1)
