"""Finding the image files to score: the folder walk of `python -m aesthetic_jax.predict`.

    for found in find_images(['photos/', 'extra.jpg']):
      if found.error: report(display_path(found.path), found.error)
      else: score(found.path)

Every path given or found gets exactly one `Found`, in a deterministic order: the given paths
in order; inside a folder first its files and other non-folder entries, sorted by name, then
its subfolders, sorted by name, each walked depth-first the same way (or reported by one
entry: a hidden folder, a link to a folder, ...). A given folder in which nothing at all is
found gets one entry, 'empty folder'.

Nothing is ever opened while walking (only stat/lstat and directory listings), so a FIFO or a
device in the tree cannot block or feed the walk; the image reader (data/image_io.py) checks
every file again when it opens it. Errors (Found.error; '' for a file to score):

  'no such file or folder'        a given path that does not exist
  'broken link'                   a symbolic link to nothing (or a link loop of links)
  'hidden file (skipped)'         a name starting with '.' inside a walked folder
  'hidden folder (skipped)'       (one entry; its content is not listed)
  'not a regular file: fifo'      also 'socket', 'character device', 'block device'
  'link leaves the folder (use --follow_links)'   a link inside a walked folder whose target
                                  (os.path.realpath) is outside the given folder
  'link to a folder (use --follow_links)'         a link to a folder inside the given folder
  'link loop'                     (follow_links) a folder reached through a link that is
                                  being walked already (e.g. a link to '..')
  'folder already listed (linked twice)'          (follow_links) a link to a folder walked
                                  already (so links cannot multiply the walk); real folders
                                  are walked even when a link showed them before
  'folder loop'                   a folder containing itself without links (bind mounts)
  'cannot read folder: <reason>'  permission denied, ...
  'cannot inspect: <reason>'      stat failed
  'empty folder'                  a given folder without any entry

A path given explicitly that is a symbolic link is followed (the user named it); the target
must still be a regular file or a folder.

Paths are kept exactly as the OS gives them: a file name that is not valid UTF-8 (b'caf\\xe9.jpg'
on Linux) is a str with surrogate escapes ('caf\\udce9.jpg'), which opens the right file but
cannot be encoded as UTF-8. Write `display_path(path)` into tables, CSV and JSON: it shows such
bytes backslash-escaped ('caf\\\\xe9.jpg', i.e. the characters c a f \\ x e 9), and control
characters too, so every writer and terminal accepts it. It is for display only: it is not
reversible (a real backslash in a name looks the same).
"""

import dataclasses
import os
import stat
from typing import Sequence

from aesthetic_jax.data import image_io

NO_SUCH = 'no such file or folder'
BROKEN_LINK = 'broken link'
HIDDEN_FILE = 'hidden file (skipped)'
HIDDEN_FOLDER = 'hidden folder (skipped)'
LINK_LEAVES = 'link leaves the folder (use --follow_links)'
LINK_TO_FOLDER = 'link to a folder (use --follow_links)'
LINK_LOOP = 'link loop'
FOLDER_LOOP = 'folder loop'
ALREADY_LISTED = 'folder already listed (linked twice)'
EMPTY_FOLDER = 'empty folder'


@dataclasses.dataclass(frozen=True)
class Found:
  """One path given or found: error is '' for a regular file to score, else why it is not
  scored (the module docstring lists them)."""
  path: str
  error: str = ''


def display_path(path) -> str:
  """`path` as a printable str that any encoding accepts: bytes that are not UTF-8 (surrogate
  escapes in a str from the OS) as '\\xNN', control characters as '\\xNN' too."""
  try:
    raw = os.fsencode(path)
  except UnicodeEncodeError:  # a lone surrogate that did not come from the OS
    raw = path.encode('utf-8', 'surrogatepass')
  text = raw.decode('utf-8', 'backslashreplace')
  if text.isprintable():
    return text
  return ''.join(c if c.isprintable() or c == ' ' else
                 (f'\\x{ord(c):02x}' if ord(c) < 256 else c.encode('unicode_escape').decode())
                 for c in text)


def _not_regular(mode: int) -> str:
  return str(image_io.not_regular_error(mode))


def _inside(target: str, root: str) -> bool:
  return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


@dataclasses.dataclass
class _Folder:
  """A folder to walk once its parent's own entries are out."""
  path: str
  key: tuple[int, int] | None = None  # (st_dev, st_ino), read when walked
  linked: bool = False


def _list_folder(folder: str, top_real: str, follow_links: bool,
                 out: list[Found]) -> list[Found | _Folder]:
  """Appends `folder`'s own entries to out; returns its subfolder items in order."""
  with os.scandir(folder) as it:
    entries = sorted(it, key=lambda e: e.name)
  folders: list[Found | _Folder] = []
  for entry in entries:
    path = entry.path
    try:
      if entry.name.startswith('.'):
        if entry.is_dir():  # (follows a link: stat, never open)
          folders.append(Found(path, HIDDEN_FOLDER))
        else:
          out.append(Found(path, HIDDEN_FILE))
      elif entry.is_symlink():
        try:
          target = os.stat(path)
        except OSError:
          out.append(Found(path, BROKEN_LINK))
          continue
        is_dir = stat.S_ISDIR(target.st_mode)
        if not follow_links and not _inside(os.path.realpath(path), top_real):
          (folders if is_dir else out).append(Found(path, LINK_LEAVES))
        elif is_dir:
          folders.append(_Folder(path, linked=True) if follow_links
                         else Found(path, LINK_TO_FOLDER))
        elif stat.S_ISREG(target.st_mode):
          out.append(Found(path))
        else:
          out.append(Found(path, _not_regular(target.st_mode)))
      elif entry.is_dir(follow_symlinks=False):
        folders.append(_Folder(path))
      elif entry.is_file(follow_symlinks=False):
        out.append(Found(path))
      else:
        out.append(Found(path, _not_regular(entry.stat(follow_symlinks=False).st_mode)))
    except OSError as e:
      out.append(Found(path, f'cannot inspect: {e.strerror or e}'))
  return folders


def _walk(top: str, top_stat: os.stat_result, follow_links: bool, out: list[Found]) -> None:
  """Every entry under the folder `top`, iteratively (no recursion limit on deep trees)."""
  top_real = os.path.realpath(top)
  top_key = (top_stat.st_dev, top_stat.st_ino)
  walking = {top_key}  # the folders on the current path from top (loops)
  listed = {top_key}   # every folder walked (a link to one of them is not walked again)
  try:
    pending = _list_folder(top, top_real, follow_links, out)
  except OSError as e:
    out.append(Found(top, f'cannot read folder: {e.strerror or e}'))
    return
  # A stack of (folder key, its subfolder items still to walk (reversed, for pop()), whether
  # the folder was reached through a link).
  stack = [(top_key, pending[::-1], False)]
  while stack:
    key, todo, via_link = stack[-1]
    if not todo:
      stack.pop()
      walking.discard(key)
      continue
    item = todo.pop()
    if isinstance(item, Found):
      out.append(item)
      continue
    try:
      info = os.stat(item.path)
    except OSError as e:
      out.append(Found(item.path, f'cannot inspect: {e.strerror or e}'))
      continue
    key = (info.st_dev, info.st_ino)
    via_link = via_link or item.linked
    if key in walking:  # (without links only through a bind mount)
      out.append(Found(item.path, LINK_LOOP if via_link else FOLDER_LOOP))
      continue
    if item.linked and key in listed:  # a folder linked twice is walked once through links
      out.append(Found(item.path, ALREADY_LISTED))
      continue
    try:
      children = _list_folder(item.path, top_real, follow_links, out)
    except OSError as e:
      out.append(Found(item.path, f'cannot read folder: {e.strerror or e}'))
      continue
    walking.add(key)
    listed.add(key)
    stack.append((key, children[::-1], via_link))


def find_images(paths: Sequence[str], *, follow_links: bool = False) -> list[Found]:
  """One Found per path given or found (see the module docstring): the given paths in order,
  folders walked recursively (a folder's own entries, sorted, before its subfolders, sorted).

  follow_links: walk symbolic links to folders and links whose target is outside the given
  folder (loops and folders reached twice are reported once, not walked again). Links to
  files inside the folder are always followed; a given path that is a link always.
  """
  out: list[Found] = []
  for path in paths:
    try:
      info = os.stat(path)  # follows a link the user named
    except OSError as e:
      if os.path.lexists(path):
        out.append(Found(path, BROKEN_LINK if os.path.islink(path)
                         else f'cannot inspect: {e.strerror or e}'))
      else:
        out.append(Found(path, NO_SUCH))
      continue
    if stat.S_ISDIR(info.st_mode):
      start = len(out)
      _walk(path, info, follow_links, out)
      if len(out) == start:
        out.append(Found(path, EMPTY_FOLDER))
    elif stat.S_ISREG(info.st_mode):
      out.append(Found(path))
    else:
      out.append(Found(path, _not_regular(info.st_mode)))
  return out
