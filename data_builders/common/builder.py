"""What the AVA and Photo.net builders share around TFDS: the skip report's life cycle."""

import os

from absl import logging

from data_builders.common import images
from data_builders.common import skip_report as report_lib


class SkipReportMixin:
  """For a GeneratorBasedBuilder whose `_split_generators` sets `self.last_report`.

  Holds one image worker pool (`self.pool`, from `self._num_workers`) for all splits of a
  build. The report is written into the folder being built (so it appears, with the records,
  only when the build succeeds) and its location logged once the folder has its final name.
  `_split_generators` sets `last_report` before anything can fail, so that the caller of a
  failed build can still write it elsewhere (aesthetic_jax.data.build does).
  """

  last_report: report_lib.BuildReport | None = None
  pool = None
  _num_workers: int = 1

  def __init__(self, *, num_workers: int | None = None, progress: bool = False, **kwargs):
    """num_workers: image worker processes (default: every core). progress: show a bar."""
    self._num_workers = num_workers or images.default_num_workers()
    self._progress = progress
    self.last_report: report_lib.BuildReport | None = None
    super().__init__(**kwargs)

  def _download_and_prepare(self, dl_manager, download_config=None):
    with images.worker_pool(self._num_workers) as self.pool:
      try:
        super()._download_and_prepare(dl_manager, download_config)
      finally:
        self.pool = None
    if self.last_report is not None:  # None when max_examples_per_split == 0
      self.last_report.write(self.data_dir)

  def _post_download_and_prepare_hook(self) -> None:
    super()._post_download_and_prepare_hook()
    report = self.last_report
    if report is not None and report.issues:
      logging.warning('%s: %d inputs skipped, %d converted; see %s', report.dataset,
                      report.num_by_action(report_lib.SKIPPED),
                      report.num_by_action(report_lib.CONVERTED),
                      os.path.join(self.data_dir, report_lib.REPORT_FILENAME))
