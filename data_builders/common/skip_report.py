"""What a build did with every odd input: per reason, the action taken and the ids.

Shared by the AVA and Photo.net builders and their stats commands. Nothing is dropped
silently (method.md section 1): every metadata row or image that is skipped, converted or
kept despite a defect is recorded here under a reason, and the builder writes the report as
`skip_report.json` beside the records it built.

Ids are image ids (ints), or 'FILE:LINE' strings for lines whose id could not be read.
"""

import collections
import dataclasses
import json
import os
from typing import Any, Mapping

REPORT_FILENAME = 'skip_report.json'

SKIPPED = 'skipped'  # the row/image has no record
CONVERTED = 'converted'  # the image was re-encoded as an RGB JPEG
KEPT = 'kept'  # the record exists; the defect is described by the reason


@dataclasses.dataclass
class Issue:
  action: str
  ids: list = dataclasses.field(default_factory=list)
  by_split: collections.Counter = dataclasses.field(default_factory=collections.Counter)


class BuildReport:
  """Collects (reason, action, id) triples and counts; serialises to/from JSON."""

  def __init__(self, dataset: str = ''):
    self.dataset = dataset
    self.issues: dict[str, Issue] = {}
    self.counts: dict[str, Any] = {}

  def add(self, reason: str, action: str, item_id, split: str | None = None) -> None:
    issue = self.issues.setdefault(reason, Issue(action))
    if issue.action != action:
      raise ValueError(f'Reason {reason!r} is recorded as {issue.action!r}, not {action!r}.')
    issue.ids.append(item_id)
    if split:
      issue.by_split[split] += 1

  def count(self, reason: str) -> int:
    return len(self.issues[reason].ids) if reason in self.issues else 0

  def ids(self, reason: str) -> list:
    return list(self.issues[reason].ids) if reason in self.issues else []

  def num_by_action(self, action: str) -> int:
    return sum(len(i.ids) for i in self.issues.values() if i.action == action)

  def to_json(self) -> dict:
    return {
        'dataset': self.dataset,
        'counts': self.counts,
        'issues': {reason: {'action': issue.action, 'count': len(issue.ids),
                            'by_split': dict(sorted(issue.by_split.items())), 'ids': issue.ids}
                   for reason, issue in sorted(self.issues.items())},
    }

  @classmethod
  def from_json(cls, data: Mapping[str, Any]) -> 'BuildReport':
    report = cls(data.get('dataset', ''))
    report.counts = dict(data.get('counts', {}))
    for reason, entry in data.get('issues', {}).items():
      report.issues[reason] = Issue(entry['action'], list(entry['ids']),
                                    collections.Counter(entry.get('by_split', {})))
    return report

  def write(self, directory: os.PathLike | str) -> str:
    path = os.path.join(os.fspath(directory), REPORT_FILENAME)
    with open(path, 'w') as f:
      json.dump(self.to_json(), f, indent=1)
    return path

  @classmethod
  def read(cls, directory: os.PathLike | str) -> 'BuildReport':
    with open(os.path.join(os.fspath(directory), REPORT_FILENAME)) as f:
      return cls.from_json(json.load(f))

  def summary(self, max_ids: int = 5) -> str:
    """A few readable lines: one per reason, with its count and the first ids."""
    lines = []
    if self.counts:
      lines.append(', '.join(f'{k}: {v}' for k, v in self.counts.items()))
    if not self.issues:
      lines.append('No skipped, converted or defective inputs.')
    for reason, issue in sorted(self.issues.items(), key=lambda kv: (kv[1].action, kv[0])):
      shown = ', '.join(str(i) for i in issue.ids[:max_ids])
      more = f', ... (+{len(issue.ids) - max_ids})' if len(issue.ids) > max_ids else ''
      splits = ''
      if issue.by_split:
        splits = ' [' + ', '.join(f'{s}: {n}' for s, n in sorted(issue.by_split.items())) + ']'
      lines.append(f'  {issue.action:>9} {len(issue.ids):>7}  {reason}{splits}: {shown}{more}')
    return '\n'.join(lines)
