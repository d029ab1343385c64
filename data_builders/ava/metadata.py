"""AVA's metadata files, the paper's tag selection and both splits (no images, no TFDS).

AVA (Murray, Marchesotti and Perronnin, CVPR 2012), AVA.txt: one line per image,
`index image_id n1 .. n10 tag1 tag2 challenge_id` (README.txt of the release), n_s = votes
for score s, tag ids from tags.txt (0 = none), challenge id from challenges.txt.

The `paper` rule (Kao, He and Huang, IEEE TIP 2017, section IV; method.md section 1): keep
the tags carried by more than 3000 images, in ascending id order; keep the images with at
least one kept tag; a fixed-seed random 20,000 of them are test, the rest train. The split is
drawn over metadata alone (ids sorted first, so line order does not matter), so it is the
same for everyone whatever images their copy lacks; missing images are skipped afterwards.

Shared by the builder (`ava.py`) and the stats command (`stats.py`).
"""

import dataclasses
import os
from typing import Iterable, Mapping, Sequence

import numpy as np

from data_builders.common import skip_report as report_lib

NUM_BINS = 10  # scores 1..10
SCORE_MIN, SCORE_MAX = 1, 10
NUM_FIELDS = 15
LABEL_THRESHOLD = 5.0

# Paper defaults (method.md section 1).
MIN_TAG_IMAGES = 3000
NUM_TEST = 20_000
SPLIT_SEED = 0

AVA_TXT = 'AVA.txt'
TAGS_TXT = 'tags.txt'
CHALLENGES_TXT = 'challenges.txt'
IMAGES_DIR = 'images'
OFFICIAL_TEST_LIST = os.path.join('aesthetics_image_lists', 'generic_test.jpgl')

# Metadata reasons (see report.py).
SHORT_LINE = 'short_line'
MALFORMED_LINE = 'malformed_line'
ZERO_VOTES = 'zero_votes'
DUPLICATE_ID = 'duplicate_id'
UNKNOWN_TAG_ID = 'unknown_tag_id'
UNKNOWN_CHALLENGE_ID = 'unknown_challenge_id'
LIST_ID_NOT_IN_AVA_TXT = 'official_list_id_not_in_ava_txt'


@dataclasses.dataclass(frozen=True)
class AvaTable:
  """The valid rows of AVA.txt, in file order.

  image_id int64 (N,), votes int32 (N, 10), tag_ids int32 (N, 2) raw (0 = none, unknown ids
  kept as they are), challenge_id int32 (N,), line int64 (N,) 1-based line numbers.
  """
  image_id: np.ndarray
  votes: np.ndarray
  tag_ids: np.ndarray
  challenge_id: np.ndarray
  line: np.ndarray

  def __len__(self) -> int:
    return len(self.image_id)

  @property
  def num_votes(self) -> np.ndarray:
    return self.votes.sum(axis=1).astype(np.int32)

  @property
  def mean_score(self) -> np.ndarray:
    return mean_scores(self.votes, SCORE_MIN)

  def take(self, index: np.ndarray) -> 'AvaTable':
    return AvaTable(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))


def mean_scores(votes: np.ndarray, score_min: int) -> np.ndarray:
  """float32 (N,) vote-weighted mean scores of int (N, K) histograms (scores score_min..)."""
  votes = np.asarray(votes, np.int64)
  scores = np.arange(score_min, score_min + votes.shape[1])
  return (votes @ scores / votes.sum(axis=1)).astype(np.float32)


def read_names(path: os.PathLike | str) -> dict[int, str]:
  """`id name` lines (tags.txt, challenges.txt; names may hold spaces) -> {id: name}."""
  names = {}
  with open(path, encoding='utf-8', errors='replace') as f:
    for text in f:
      parts = text.strip().split(maxsplit=1)
      if parts and parts[0].lstrip('-').isdigit():
        names[int(parts[0])] = parts[1] if len(parts) > 1 else ''
  return names


def read_id_list(path: os.PathLike | str) -> list[int]:
  """A .jpgl list: one image id per line (blank or non-numeric lines ignored)."""
  with open(path) as f:
    return [int(t) for t in (line.strip() for line in f) if t.isdigit()]


def parse_ava_lines(lines: Iterable[str], report: report_lib.BuildReport, *,
                    tag_names: Mapping[int, str] | None = None,
                    challenge_names: Mapping[int, str] | None = None,
                    filename: str = AVA_TXT) -> tuple[AvaTable, int]:
  """Parses AVA.txt lines; every defect goes into `report`.

  Skipped (no record): short or malformed lines, rows with zero votes, repeated image ids
  (the first is kept). Kept: tag ids outside `tag_names` (ignored for tag counting and the
  multi-hot), challenge ids outside `challenge_names`.

  Returns:
    (table of the valid rows, number of non-blank lines).
  """
  rows, line_numbers = [], []
  seen = set()
  num_lines = 0
  for number, text in enumerate(lines, start=1):
    fields = text.split()
    if not fields:
      continue
    num_lines += 1
    where = f'{filename}:{number}'
    try:
      values = [int(v) for v in fields]
    except ValueError:
      values = None
    if values is None or len(fields) > NUM_FIELDS:
      report.add(MALFORMED_LINE, report_lib.SKIPPED, where)
      continue
    if len(fields) < NUM_FIELDS:
      report.add(SHORT_LINE, report_lib.SKIPPED, where)
      continue
    image_id, votes = values[1], values[2:12]
    if image_id <= 0 or min(votes) < 0:
      report.add(MALFORMED_LINE, report_lib.SKIPPED, where)
      continue
    if not sum(votes):
      report.add(ZERO_VOTES, report_lib.SKIPPED, image_id)
      continue
    if image_id in seen:
      report.add(DUPLICATE_ID, report_lib.SKIPPED, image_id)
      continue
    seen.add(image_id)
    tags, challenge = values[12:14], values[14]
    if tag_names is not None and any(t and t not in tag_names for t in tags):
      report.add(UNKNOWN_TAG_ID, report_lib.KEPT, image_id)
    if challenge_names is not None and challenge not in challenge_names:
      report.add(UNKNOWN_CHALLENGE_ID, report_lib.KEPT, image_id)
    rows.append(values[1:])
    line_numbers.append(number)
  data = np.asarray(rows, np.int64).reshape(-1, NUM_FIELDS - 1)
  table = AvaTable(image_id=data[:, 0], votes=data[:, 1:11].astype(np.int32),
                   tag_ids=data[:, 11:13].astype(np.int32),
                   challenge_id=data[:, 13].astype(np.int32),
                   line=np.asarray(line_numbers, np.int64))
  return table, num_lines


def count_tags(tag_ids: np.ndarray, known: Iterable[int]) -> dict[int, int]:
  """{tag id: number of images carrying it in either slot} for every known id (ascending).

  tag_ids: int (N, 2). An image with the same tag twice counts once; unknown ids are ignored.
  """
  known = sorted(set(int(t) for t in known) - {0})
  tag_ids = np.asarray(tag_ids)
  counts = {}
  for tag in known:
    counts[tag] = int(np.any(tag_ids == tag, axis=1).sum())
  return counts


def select_tags(counts: Mapping[int, int], min_images: int = MIN_TAG_IMAGES) -> list[int]:
  """Tag ids carried by more than `min_images` images, ascending."""
  return sorted(t for t, n in counts.items() if n > min_images)


def multi_hot(tag_ids: np.ndarray, selected: Sequence[int]) -> np.ndarray:
  """bool (N, M): image n carries selected tag m. tag_ids: int (N, 2)."""
  selected = np.asarray(selected, np.int64).reshape(1, 1, -1)
  return np.any(np.asarray(tag_ids)[:, :, None] == selected, axis=1)


def official_split(image_ids: np.ndarray, test_list: Sequence[int],
                   report: report_lib.BuildReport | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
  """(train ids, test ids), sorted: test = the listed ids found in AVA.txt, train = the rest.

  Listed ids absent from AVA.txt (no votes, so no record) go into `report`.
  """
  ids = np.unique(np.asarray(image_ids, np.int64))
  listed = np.unique(np.asarray(test_list, np.int64))
  present = np.isin(listed, ids)
  if report is not None:
    for image_id in listed[~present]:
      report.add(LIST_ID_NOT_IN_AVA_TXT, report_lib.SKIPPED, int(image_id))
  return ids[~np.isin(ids, listed)], listed[present]


@dataclasses.dataclass(frozen=True)
class Selection:
  """The outcome of the tag rule over a table."""
  tag_counts: dict[int, int]
  tag_ids: list[int]  # kept tags, ascending
  tag_names: list[str]
  row_mask: np.ndarray  # bool (N,): rows with at least one kept tag


def select(table: AvaTable, tag_names: Mapping[int, str],
           min_images: int = MIN_TAG_IMAGES) -> Selection:
  counts = count_tags(table.tag_ids, tag_names)
  kept = select_tags(counts, min_images)
  return Selection(counts, kept, [tag_names[t] for t in kept],
                   multi_hot(table.tag_ids, kept).any(axis=1))


def read_manual_dir(manual_dir: os.PathLike | str, report: report_lib.BuildReport,
                    ) -> tuple[AvaTable, int, dict[int, str]]:
  """Reads AVA.txt, tags.txt and (if present) challenges.txt of a manual dir.

  Returns:
    (valid rows, number of non-blank lines of AVA.txt, {tag id: name}).
  """
  manual_dir = os.fspath(manual_dir)
  tag_names = read_names(os.path.join(manual_dir, TAGS_TXT))
  challenges_path = os.path.join(manual_dir, CHALLENGES_TXT)
  challenge_names = read_names(challenges_path) if os.path.exists(challenges_path) else None
  with open(os.path.join(manual_dir, AVA_TXT), encoding='utf-8', errors='replace') as f:
    table, num_lines = parse_ava_lines(f, report, tag_names=tag_names,
                                       challenge_names=challenge_names)
  return table, num_lines, tag_names
