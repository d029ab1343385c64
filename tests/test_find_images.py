"""aesthetic_jax.infer.files: the folder walk of predict (find_images, display_path)."""

import builtins
import csv
import io
import json
import os
import socket
import sys
import threading

import pytest

from aesthetic_jax.infer import files
from aesthetic_jax.infer.files import Found, display_path, find_images


def _rel(found: list[Found], root) -> list[tuple[str, str]]:
  return [(os.path.relpath(f.path, str(root)), f.error) for f in found]


@pytest.fixture
def tree(tmp_path):
  """tmp/top: files, a sub-tree, hidden entries, links of every kind, a FIFO, a socket;
  tmp/outside: a file and a folder outside it."""
  top = tmp_path / 'top'
  (top / 'sub' / 'deeper').mkdir(parents=True)
  (top / '.git').mkdir()
  (tmp_path / 'outside' / 'more').mkdir(parents=True)
  for path in ('a.jpg', 'b.png', 'sub/c.jpg', 'sub/deeper/d.jpg', '.hidden.jpg', '.git/x.jpg'):
    (top / path).write_bytes(b'x')
  (tmp_path / 'outside' / 'x.jpg').write_bytes(b'x')
  (tmp_path / 'outside' / 'more' / 'y.jpg').write_bytes(b'x')
  os.mkfifo(top / 'fifo.jpg')
  os.symlink('a.jpg', top / 'link_in.jpg')
  os.symlink('../outside/x.jpg', top / 'link_out.jpg')
  os.symlink('../outside', top / 'link_out_dir')
  os.symlink('sub', top / 'link_dir')
  os.symlink('..', top / 'sub' / 'loop')  # -> top
  os.symlink('nowhere.jpg', top / 'broken.jpg')
  os.symlink('fifo.jpg', top / 'link_fifo.jpg')
  server = socket.socket(socket.AF_UNIX)
  server.bind(str(top / 'sock.jpg'))
  yield top
  server.close()


def _no_opening(monkeypatch):
  """Makes every open of a file fail the test (directory listings still work)."""
  def refuse(*args, **kwargs):
    raise AssertionError(f'opened during the walk: {args}')
  monkeypatch.setattr(builtins, 'open', refuse)
  monkeypatch.setattr(os, 'open', refuse)
  monkeypatch.setattr(io, 'open', refuse)


def _walk_with_timeout(*args, **kwargs) -> list[Found]:
  """find_images on a thread: a regression that opens the FIFO fails in seconds."""
  result = {}
  thread = threading.Thread(target=lambda: result.update(value=find_images(*args, **kwargs)),
                            daemon=True)
  thread.start()
  thread.join(5)
  assert not thread.is_alive(), 'the walk blocked'
  return result['value']


EXPECTED_WITHOUT_LINKS = [
    ('.hidden.jpg', 'hidden file (skipped)'),
    ('a.jpg', ''),
    ('b.png', ''),
    ('broken.jpg', 'broken link'),
    ('fifo.jpg', 'not a regular file: fifo'),
    ('link_fifo.jpg', 'not a regular file: fifo'),
    ('link_in.jpg', ''),
    ('link_out.jpg', 'link leaves the folder (use --follow_links)'),
    ('sock.jpg', 'not a regular file: socket'),
    # Then the subfolders (and what stands for one), sorted.
    ('.git', 'hidden folder (skipped)'),
    ('link_dir', 'link to a folder (use --follow_links)'),
    ('link_out_dir', 'link leaves the folder (use --follow_links)'),
    ('sub/c.jpg', ''),
    ('sub/deeper/d.jpg', ''),
    ('sub/loop', 'link to a folder (use --follow_links)'),
]


def test_walk_without_following_links(tree, monkeypatch):
  _no_opening(monkeypatch)
  found = _walk_with_timeout([str(tree)])
  assert _rel(found, tree) == EXPECTED_WITHOUT_LINKS
  assert all(isinstance(f, Found) for f in found)
  assert found == find_images([str(tree)])  # deterministic


def test_walk_following_links(tree, monkeypatch):
  _no_opening(monkeypatch)
  found = _rel(_walk_with_timeout([str(tree)], follow_links=True), tree)
  assert found == [
      ('.hidden.jpg', 'hidden file (skipped)'),
      ('a.jpg', ''),
      ('b.png', ''),
      ('broken.jpg', 'broken link'),
      ('fifo.jpg', 'not a regular file: fifo'),
      ('link_fifo.jpg', 'not a regular file: fifo'),
      ('link_in.jpg', ''),
      ('link_out.jpg', ''),
      ('sock.jpg', 'not a regular file: socket'),
      ('.git', 'hidden folder (skipped)'),
      ('link_dir/c.jpg', ''),  # the linked folder, walked
      ('link_dir/deeper/d.jpg', ''),
      ('link_dir/loop', 'link loop'),  # -> top, which is being walked
      ('link_out_dir/x.jpg', ''),
      ('link_out_dir/more/y.jpg', ''),
      ('sub/c.jpg', ''),  # a real folder is listed even when a link showed it before
      ('sub/deeper/d.jpg', ''),
      ('sub/loop', 'link loop'),
  ]


def test_folders_linked_twice_are_walked_once(tmp_path):
  """Links cannot multiply the walk (each level linking twice to the next)."""
  levels = [tmp_path / f'level{i}' for i in range(12)]
  for level in levels:
    level.mkdir()
    (level / 'photo.jpg').write_bytes(b'x')
  for here, below in zip(levels, levels[1:]):
    os.symlink(below, here / 'a')
    os.symlink(below, here / 'b')
  found = find_images([str(levels[0])], follow_links=True)
  assert len(found) == 2 * len(levels) - 1
  assert sum(f.error == files.ALREADY_LISTED for f in found) == len(levels) - 1
  assert sum(not f.error for f in found) == len(levels)


def test_given_paths(tree, tmp_path):
  os.symlink(tree / 'a.jpg', tmp_path / 'given_link.jpg')
  os.symlink(tree / 'fifo.jpg', tmp_path / 'given_fifo_link.jpg')
  os.symlink(tmp_path / 'gone.jpg', tmp_path / 'given_broken.jpg')
  os.symlink(tree / 'sub', tmp_path / 'given_dir_link')
  (tmp_path / 'empty').mkdir()
  given = [tree / 'a.jpg', tmp_path / 'missing.jpg', tmp_path / 'given_link.jpg',
           tmp_path / 'given_fifo_link.jpg', tmp_path / 'given_broken.jpg',
           tree / '.hidden.jpg', tree / 'fifo.jpg', tmp_path / 'empty',
           tmp_path / 'given_dir_link', tree / 'a.jpg']
  found = _walk_with_timeout([str(p) for p in given])
  assert _rel(found, tmp_path) == [
      ('top/a.jpg', ''),
      ('missing.jpg', 'no such file or folder'),
      ('given_link.jpg', ''),  # a link the user named is followed
      ('given_fifo_link.jpg', 'not a regular file: fifo'),  # ... and still checked
      ('given_broken.jpg', 'broken link'),
      ('top/.hidden.jpg', ''),  # named explicitly: not skipped
      ('top/fifo.jpg', 'not a regular file: fifo'),
      ('empty', 'empty folder'),
      ('given_dir_link/c.jpg', ''),  # a named link to a folder is walked
      ('given_dir_link/deeper/d.jpg', ''),
      ('given_dir_link/loop', 'link leaves the folder (use --follow_links)'),
      ('top/a.jpg', ''),  # every path given gets its entry
  ]


def test_non_utf8_names_are_kept_and_displayable(tmp_path):
  folder = os.fsencode(str(tmp_path))
  try:
    with builtins.open(os.path.join(folder, b'caf\xe9.jpg'), 'wb') as f:
      f.write(b'x')
  except OSError:
    pytest.skip('this file system refuses names that are not UTF-8')
  (tmp_path / 'caf\u00e9 ok.jpg').write_bytes(b'y')
  found = find_images([str(tmp_path)])
  paths = [f.path for f in found]
  assert [os.path.basename(p) for p in paths] == ['caf\u00e9 ok.jpg', 'caf\udce9.jpg']
  with builtins.open(paths[1], 'rb') as f:  # the path opens the right file
    assert f.read() == b'x'
  shown = display_path(paths[1])
  assert shown.endswith('caf\\xe9.jpg') and shown.encode('utf-8')
  assert display_path(paths[0]) == paths[0]  # valid names are unchanged
  # CSV and JSON writers accept the displayed form; the raw path would fail.
  out = tmp_path.parent / 'scores.csv'
  with builtins.open(out, 'w', encoding='utf-8', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['path', 'error'])
    for entry in found:
      writer.writerow([display_path(entry.path), entry.error])
  with builtins.open(out, encoding='utf-8', newline='') as f:
    rows = list(csv.reader(f))
  assert rows[2][0].endswith('caf\\xe9.jpg')
  with pytest.raises(UnicodeEncodeError):
    with builtins.open(tmp_path.parent / 'raw.csv', 'w', encoding='utf-8') as f:
      csv.writer(f).writerow([paths[1]])
  text = json.dumps({'images': [{'path': display_path(p)} for p in paths]}, ensure_ascii=False)
  text.encode('utf-8')
  assert json.loads(text)['images'][1]['path'].endswith('caf\\xe9.jpg')


def test_display_path_escapes_control_characters():
  assert display_path('a\nb\x1b[31m.jpg') == 'a\\x0ab\\x1b[31m.jpg'
  assert display_path('evil\u202egpj.exe') == 'evil\\u202egpj.exe'
  assert display_path('plain name.jpg') == 'plain name.jpg'
  assert display_path('lone\ud800.jpg') == 'lone\\xed\\xa0\\x80.jpg'
  assert display_path(b'caf\xe9.jpg') == 'caf\\xe9.jpg'


def _stack_depth() -> int:
  frame, depth = sys._getframe(), 0  # pylint: disable=protected-access
  while frame:
    frame, depth = frame.f_back, depth + 1
  return depth


def test_deep_tree_beyond_the_recursion_limit(tmp_path):
  """A tree deeper than the recursion limit allows (the limit is lowered for the walk rather
  than the tree made 1000+ deep, which pytest's own recursive clean-up could not delete)."""
  depth = 300
  path = str(tmp_path)
  for _ in range(depth):
    path = os.path.join(path, 'd')
    os.mkdir(path)
  with builtins.open(os.path.join(path, 'deep.jpg'), 'wb'):
    pass
  limit = sys.getrecursionlimit()
  sys.setrecursionlimit(_stack_depth() + depth // 2)
  try:
    found = find_images([str(tmp_path)])
  finally:
    sys.setrecursionlimit(limit)
  assert len(found) == 1 and not found[0].error
  assert os.path.relpath(found[0].path, str(tmp_path)).split(os.sep) == ['d'] * depth + [
      'deep.jpg']


def test_unreadable_folder(tmp_path, monkeypatch):
  (tmp_path / 'locked').mkdir()
  (tmp_path / 'locked' / 'x.jpg').write_bytes(b'x')
  (tmp_path / 'z.jpg').write_bytes(b'x')
  real_scandir = os.scandir

  def scandir(path):  # what chmod 000 does for anyone but root
    if os.path.basename(path) == 'locked':
      raise PermissionError(13, 'Permission denied', path)
    return real_scandir(path)
  monkeypatch.setattr(os, 'scandir', scandir)
  found = _rel(find_images([str(tmp_path)]), tmp_path)
  assert found == [('z.jpg', ''), ('locked', 'cannot read folder: Permission denied')]
  assert find_images([str(tmp_path / 'locked')]) == [
      Found(str(tmp_path / 'locked'), 'cannot read folder: Permission denied')]


def test_a_given_folder_is_its_own_top(tree):
  """Links are judged against the folder given: sub/loop -> top leaves 'sub'."""
  found = _rel(find_images([str(tree / 'sub')]), tree)
  assert found == [('sub/c.jpg', ''), ('sub/deeper/d.jpg', ''),
                   ('sub/loop', 'link leaves the folder (use --follow_links)')]
