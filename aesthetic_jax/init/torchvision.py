"""torchvision ImageNet weights -> the Flax backbones' variables (no network, no PyTorch).

  python -m aesthetic_jax.weights import --arch=resnet50 --src=resnet50.safetensors --out=DIR

or `torchvision.import_torchvision('resnet50', src, out)` from Python. `src` is a `.safetensors`
or `.npz` file of the state dict (or a `.pth`/`.pt` one when PyTorch is installed). Every
tensor the Flax backbone needs is checked by name and shape, in the network's order, and
the first one missing or misshapen stops the import with its name. The file must be the
network asked for: a tensor the backbone does not have (say the extra blocks of a ResNet-34
given as resnet18) stops the import too; only the ImageNet classifier (`fc.*`,
`classifier.6.*`) may go unused, and is reported. DIR receives `backbone.npz` (the
backbone's variables: 'params/...' and, for ResNets, 'batch_stats/...', with the import
report inside) and `import_report.json`; `--config.model.init_from=DIR` loads them.

Files are read without unpickling anything (.pth only through torch.load(weights_only=True)),
every size a file declares is checked against the file before memory is allocated for it,
and any refusal is a `WeightFileError` with one line naming the file, the tensor, and what
to do.

Conversion (aesthetic_jax/model/backbones.py names each module after its torchvision one,
'.' -> '_'): conv weight (O, I, kh, kw) -> kernel (kh, kw, I, O); linear weight (O, I) ->
kernel (I, O); BN weight/bias -> scale/bias; running_mean/var -> batch_stats mean/var.
`num_batches_tracked` is skipped (flax's batch norm has no counter).
"""

import dataclasses
import hashlib
import json
import math
import os
import pickle
import re
import zipfile
import zlib
from typing import Any, BinaryIO, Mapping, Sequence

import flax.linen as nn
import flax.traverse_util
import numpy as np

from aesthetic_jax.model import backbones
from aesthetic_jax.run_dir import files

BACKBONE_FILE = 'backbone.npz'
REPORT_FILE = 'import_report.json'
SKIPPED_SUFFIXES = ('num_batches_tracked',)
# The ImageNet classifier: the only tensors of a state dict that may go unused.
CLASSIFIER = {'alexnet': ('classifier.6.weight', 'classifier.6.bias'),
              'vgg16': ('classifier.6.weight', 'classifier.6.bias'),
              'resnet18': ('fc.weight', 'fc.bias'), 'resnet50': ('fc.weight', 'fc.bias')}
_LEAF_TO_TORCH = {('params', 'kernel'): 'weight', ('params', 'bias'): 'bias',
                  ('params', 'scale'): 'weight', ('batch_stats', 'mean'): 'running_mean',
                  ('batch_stats', 'var'): 'running_var'}
# backbone.npz carries its own report, so it can never be paired with another import's.
_REPORT_KEY = '__import_report__'


class WeightFileError(ValueError):
  """Weights refused: a file unreadable or malformed, broken values, or another network."""


class WeightMismatchError(WeightFileError):
  """A tensor the model needs is missing or has another shape, or one it lacks is there."""


# ---------------------------------------------------------------------------------------------
# Reading state dicts.

_SAFETENSORS_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4',
                       'I16': '<i2', 'I8': 'i1', 'U64': '<u8', 'U32': '<u4', 'U16': '<u2',
                       'U8': 'u1', 'BOOL': '?', 'BF16': None}
_MAX_HEADER_BYTES = 100 << 20  # the safetensors library's own limit
# More than any backbone here unpacks to (VGG-16: 0.55 GB in float32, 1.1 GB in float64).
_MAX_NPZ_BYTES = 4 << 30
_CHUNK = 16 << 20


def _safetensors_dtype(name: Any) -> np.dtype | None:
  if name == 'BF16':
    import ml_dtypes  # pylint: disable=g-import-not-at-top  (installed with jax)
    return np.dtype(ml_dtypes.bfloat16)
  code = _SAFETENSORS_DTYPES.get(name) if isinstance(name, str) else None
  return np.dtype(code) if code else None


def _is_count(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_into(f: BinaryIO, array: np.ndarray) -> int:
  """Fills `array` from `f` in chunks (no second copy of a big tensor); bytes read."""
  view = memoryview(array.reshape(-1).view(np.uint8))
  done = 0
  while done < len(view):
    count = f.readinto(view[done:done + _CHUNK])
    if not count:
      break
    done += count
  return done


def _no_duplicates(pairs):
  record = dict(pairs)
  if len(record) != len(pairs):  # json would silently keep the last one
    seen = set()
    key = next(k for k, _ in pairs if k in seen or seen.add(k))
    raise WeightFileError(f'key {key!r} appears twice')
  return record


def _read_safetensors(path: str, shown: str, size: int) -> dict[str, np.ndarray]:
  """The tensors of a .safetensors file (bfloat16 included), each size checked first."""
  corrupt = 'the file is corrupt: download or export it again.'
  if size < 8:
    raise WeightFileError(f'{shown}: only {size} bytes, too short for a .safetensors file '
                          '(8-byte header length, header, data); download it again.')
  with open(path, 'rb') as f:
    header_size = int.from_bytes(f.read(8), 'little')
    if header_size > min(size - 8, _MAX_HEADER_BYTES):
      raise WeightFileError(
          f'{shown}: its header claims {header_size:,} bytes but the file has {size:,} '
          'bytes in all: it is truncated or not a .safetensors file; download it again.')
    try:
      header = json.loads(f.read(header_size).decode('utf-8'), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
      reason = ' '.join(str(error).split())[:120]
      raise WeightFileError(f'{shown}: its header is not valid JSON ({reason}): it is not a '
                            f'.safetensors file, or {corrupt}') from None
    if not isinstance(header, dict):
      raise WeightFileError(f'{shown}: its header is JSON but not an object of tensors: it is '
                            f'not a .safetensors file, or {corrupt}')
    header.pop('__metadata__', None)
    data_start, data_size = 8 + header_size, size - 8 - header_size
    specs = []
    for name, info in header.items():
      shape = info.get('shape') if isinstance(info, dict) else None
      offsets = info.get('data_offsets') if isinstance(info, dict) else None
      if not (isinstance(shape, list) and all(_is_count(d) and d < 1 << 31 for d in shape)
              and isinstance(offsets, list) and len(offsets) == 2
              and all(_is_count(o) for o in offsets) and offsets[0] <= offsets[1]):
        raise WeightFileError(
            f'{shown}: tensor {name!r} has no valid dtype/shape/data_offsets in the header '
            f'({json.dumps(info)[:80]}); {corrupt}')
      dtype = _safetensors_dtype(info.get('dtype'))
      if dtype is None:
        raise WeightFileError(
            f'{shown}: tensor {name!r} has dtype {info.get("dtype")!r}, which aesthetic_jax does '
            f'not read (it reads {", ".join(_SAFETENSORS_DTYPES)}); save the state dict in '
            'float32.')
      start, end = offsets
      needed = math.prod(shape) * dtype.itemsize
      if end - start != needed:
        raise WeightFileError(
            f'{shown}: tensor {name!r} spans {end - start:,} bytes of data but its shape '
            f'{tuple(shape)} of {info["dtype"]} needs {needed:,}; {corrupt}')
      specs.append((start, end, name, dtype, tuple(shape)))
    specs.sort()
    previous_end, previous = 0, None
    for start, end, name, _, _ in specs:
      if end > data_size:
        raise WeightFileError(
            f'{shown}: tensor {name!r} lies at bytes {start:,}-{end:,} of the data, but the file '
            f'holds only {data_size:,}: it is truncated (an interrupted download?) or corrupt; '
            'download it again.')
      if start < previous_end and end > start:
        raise WeightFileError(f'{shown}: tensors {previous!r} and {name!r} overlap in the data '
                              f'(bytes {start:,}-{min(end, previous_end):,}); {corrupt}')
      if end > previous_end:
        previous_end, previous = end, name
    tensors = {}
    for start, end, name, dtype, shape in specs:
      array = np.empty(shape, dtype)
      f.seek(data_start + start)
      if _read_into(f, array) != end - start:
        raise WeightFileError(f'{shown}: tensor {name!r} ends early: the file was truncated '
                              'while being read; download it again.')
      tensors[name] = array
  return tensors


def _read_npy(member: BinaryIO, info: zipfile.ZipInfo, shown: str, key: str) -> np.ndarray:
  """One .npy member of an .npz, its declared size checked against the zip entry's first."""
  version = np.lib.format.read_magic(member)
  if version == (1, 0):
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
  elif version == (2, 0):
    shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
  else:
    raise WeightFileError(f'{shown}: array {key!r} is in .npy format {version}, which holds '
                          'no plain tensor; save the state dict with numpy.savez.')
  if dtype.hasobject:
    raise WeightFileError(f'{shown}: array {key!r} holds Python objects (dtype {dtype}), which '
                          'would need unpickling and aesthetic_jax never unpickles; save plain '
                          'numeric arrays (numpy.savez of each tensor.numpy()).')
  if dtype.kind not in 'biuf':
    raise WeightFileError(f'{shown}: array {key!r} has dtype {dtype}, not a numeric tensor; '
                          'save plain numeric arrays (numpy.savez of each tensor.numpy()).')
  needed = math.prod(shape) * dtype.itemsize
  if member.tell() + needed != info.file_size:
    raise WeightFileError(
        f'{shown}: array {key!r} declares shape {shape} of {dtype} ({needed:,} bytes) but its '
        f'entry holds {info.file_size - member.tell():,}: the file is corrupt; write it again.')
  array = np.empty(shape[::-1] if fortran else shape, dtype)
  if _read_into(member, array) != needed or member.read(1):
    raise WeightFileError(f'{shown}: array {key!r} does not hold the {needed:,} bytes it '
                          'declares: the file is corrupt; write it again.')
  return array.T if fortran else array


def _read_npz(path: str, shown: str) -> dict[str, np.ndarray]:
  """The arrays of an .npz (numpy.savez) without np.load: nothing allocated unchecked."""
  try:
    archive = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, EOFError, ValueError) as error:
    raise WeightFileError(f'{shown}: not a readable .npz (zip) archive ({error}): it is '
                          'truncated, or another format named .npz; write the state dict '
                          'again with numpy.savez.') from None
  tensors = {}
  with archive:
    infos = [i for i in archive.infolist() if not i.is_dir()]
    declared = sum(i.file_size for i in infos)
    if declared > _MAX_NPZ_BYTES:
      raise WeightFileError(
          f'{shown}: its arrays unpack to {declared / 2**30:.1f} GiB, more than any backbone '
          'aesthetic_jax imports (VGG-16: 0.55 GB in float32); is it the right file?')
    for info in infos:
      if not info.filename.endswith('.npy'):
        raise WeightFileError(f'{shown}: member {info.filename!r} is not a .npy array; an .npz '
                              'state dict holds only arrays (numpy.savez).')
      key = info.filename[:-len('.npy')]
      if key in tensors:
        raise WeightFileError(f'{shown}: array {key!r} appears twice; write it again.')
      try:
        with archive.open(info) as member:
          tensors[key] = _read_npy(member, info, shown, key)
      except WeightFileError:
        raise
      except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
              RuntimeError) as error:  # a corrupt or unsupported member, or a bad .npy header
        reason = ' '.join(str(error).split())[:120]
        raise WeightFileError(f'{shown}: array {key!r} cannot be read ({reason}): the file is '
                              'corrupt; write it again with numpy.savez.') from None
  return tensors


def _read_pth(path: str, shown: str) -> dict[str, np.ndarray]:
  """A PyTorch state dict through torch.load(weights_only=True): tensors, never objects."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise WeightFileError(
        f'{shown}: a PyTorch file, and PyTorch is not installed (never a dependency of '
        'aesthetic_jax); convert it to .safetensors where torch is installed: python -c '
        "\"import torch; from safetensors.torch import save_file; "
        "save_file(torch.load('X.pth'), 'X.safetensors')\"") from None
  try:
    state = torch.load(path, map_location='cpu', weights_only=True)
  except pickle.UnpicklingError as error:
    found = re.search(r'Unsupported global: GLOBAL ([\w.]+)', str(error))
    if not found:  # not a pickle of allowed types at all: garbage or truncated
      reason = re.search(r'WeightsUnpickler error:\s*(.+?)(?:\n\n|$)', str(error), re.S)
      raise WeightFileError(
          f'{shown}: torch.load cannot read it (UnpicklingError: '
          f'{reason.group(1).strip()[:120] if reason else "not a pickle"}): it is truncated or '
          'not a PyTorch file; download it again.') from None
    raise WeightFileError(
        f'{shown}: holds pickled Python objects besides tensors ({found.group(1).rstrip(".")}), '
        'and aesthetic_jax loads .pth files with torch.load(weights_only=True) only; save '
        "just the tensors (torch.save(model.state_dict(), 'X.pth')) or convert it to .safetensors "
        'where you trust the file.') from None
  except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, TypeError,
          AttributeError) as error:  # torch.load's ways of saying the file is broken
    raise WeightFileError(f'{shown}: torch.load cannot read it ({_first_line(error)}): it is '
                          'truncated or not a PyTorch file; download it again.') from None
  for key in ('state_dict', 'model'):  # training checkpoints often wrap the state dict
    if isinstance(state, dict) and isinstance(state.get(key), dict):
      state = state[key]
  if not isinstance(state, dict):
    raise WeightFileError(f'{shown}: holds a {type(state).__name__}, not a state dict of '
                          "tensors; save model.state_dict() (torch.save(model.state_dict(), "
                          "'X.pth')).")
  return {str(k): v.detach().float().numpy() if v.is_floating_point() else v.numpy()
          for k, v in state.items() if isinstance(v, torch.Tensor)}


def _first_line(error: BaseException) -> str:
  """'RuntimeError: its first sentence', on one line."""
  text = re.split(r'(?<=\.)\s', ' '.join(str(error).split()), maxsplit=1)[0]
  return f'{type(error).__name__}: {text[:160].rstrip(".")}'


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """name -> array of a state dict saved as .safetensors, .npz, or .pth/.pt (needs torch).

  A 'module.' prefix on every name (torch.nn.DataParallel) is removed.

  Raises:
    WeightFileError: the file is missing, unreadable, malformed, or holds no tensors.
  """
  shown, path = path, os.path.expanduser(path)
  if os.path.isdir(path):
    raise WeightFileError(f'{shown}: a folder, not a weights file; pass the .safetensors, '
                          '.npz or .pth file itself.')
  if not os.path.exists(path):
    raise WeightFileError(f'{shown}: no such file; check the path.')
  if not os.path.isfile(path):
    raise WeightFileError(f'{shown}: not a regular file; pass a .safetensors, .npz or .pth '
                          'file.')
  suffix = os.path.splitext(path)[1].lower()
  if suffix not in ('.safetensors', '.npz', '.pth', '.pt'):
    raise WeightFileError(f'{shown}: unknown weights format {suffix or "(no suffix)"!r}; use '
                          '.safetensors, .npz or .pth.')
  try:
    size = os.path.getsize(path)
    if size == 0:
      raise WeightFileError(f'{shown}: the file is empty (0 bytes), e.g. an interrupted '
                            'download; download it again.')
    if suffix == '.safetensors':
      state = _read_safetensors(path, shown, size)
    elif suffix == '.npz':
      state = _read_npz(path, shown)
    else:
      state = _read_pth(path, shown)
  except OSError as error:
    raise WeightFileError(f'{shown}: cannot be read ({error.strerror or error}); check the file '
                          'and its permissions.') from None
  if not state:
    raise WeightFileError(f'{shown}: holds no tensors; give the state dict of the network.')
  if all(k.startswith('module.') for k in state):
    state = {k[len('module.'):]: v for k, v in state.items()}
  return state


# ---------------------------------------------------------------------------------------------
# torchvision state dict -> Flax backbone variables.


@dataclasses.dataclass(frozen=True)
class Entry:
  """One tensor of the mapping: torchvision name and shape <-> Flax collection and path."""
  torch_name: str
  torch_shape: tuple[int, ...]
  collection: str
  path: tuple[str, ...]


def _torch_shape(flax_shape: tuple[int, ...], leaf: str) -> tuple[int, ...]:
  if leaf == 'kernel' and len(flax_shape) == 4:  # (kh, kw, I, O) <- (O, I, kh, kw)
    return (flax_shape[3], flax_shape[2], flax_shape[0], flax_shape[1])
  if leaf == 'kernel' and len(flax_shape) == 2:  # (I, O) <- (O, I)
    return (flax_shape[1], flax_shape[0])
  return tuple(flax_shape)


def _to_flax(array: np.ndarray, leaf: str) -> np.ndarray:
  if leaf == 'kernel' and array.ndim == 4:
    return np.transpose(array, (2, 3, 1, 0))
  if leaf == 'kernel' and array.ndim == 2:
    return array.T
  return array


def backbone_shapes(arch: str, **backbone_kwargs):
  """(ShapeDtypeStructs of the backbone's variables, module paths in the order they run)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  module = backbones.build_backbone(arch, **backbone_kwargs)
  order = []

  def record(next_fun, args, kwargs, context):
    if context.method_name == '__call__' and context.module.path not in order:
      order.append(context.module.path)
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    # A 227 x 227 input; fc6's width is the same for every input size (adaptive pooling).
    shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0),
                                                jnp.zeros((1, 227, 227, 3)), train=False))
  return shapes, order


_LEAF_ORDER = {'kernel': 0, 'scale': 0, 'bias': 1, 'mean': 2, 'var': 3}


def torchvision_layout(arch: str, **backbone_kwargs) -> list[Entry]:
  """Every tensor the backbone needs, in torchvision's order, with its torchvision name."""
  shapes, order = backbone_shapes(arch, **backbone_kwargs)
  entries = []
  for collection in ('params', 'batch_stats'):
    flat = flax.traverse_util.flatten_dict(dict(shapes.get(collection, {})))
    for path, value in flat.items():
      module, leaf = path[:-1], path[-1]
      name = '.'.join(m.replace('_', '.') for m in module) + '.' + _LEAF_TO_TORCH[
          (collection, leaf)]
      entries.append(Entry(name, _torch_shape(value.shape, leaf), collection, path))
  # Modules in the order the network runs them, then weight, bias, running mean, var.
  entries.sort(key=lambda e: (order.index(e.path[:-1]), _LEAF_ORDER[e.path[-1]]))
  return entries


@dataclasses.dataclass
class ImportReport:
  """What an import did: counts, and the names of the tensors it did not use."""
  arch: str
  source: str
  backbone_kwargs: dict[str, Any]
  loaded: int = 0
  loaded_values: int = 0
  unused: list[str] = dataclasses.field(default_factory=list)
  skipped: list[str] = dataclasses.field(default_factory=list)
  cast: list[str] = dataclasses.field(default_factory=list)
  source_sha256: str = ''

  def summary(self) -> str:
    lines = [f'{self.arch}: loaded {self.loaded} tensors ({self.loaded_values:,} values) '
             f'from {self.source}.']
    if self.unused:
      lines.append(f'Not used ({len(self.unused)}): {", ".join(self.unused)}')
    if self.skipped:
      lines.append(f'Skipped buffers ({len(self.skipped)}): *.num_batches_tracked')
    if self.cast:
      lines.append(f'Cast to float32 ({len(self.cast)}): {", ".join(self.cast[:5])}'
                   + (' ...' if len(self.cast) > 5 else ''))
    return '\n'.join(lines)


# torchvision's ResNets by (bottleneck blocks?, blocks per stage).
_RESNETS = {(False, (2, 2, 2, 2)): 'ResNet-18', (False, (3, 4, 6, 3)): 'ResNet-34',
            (True, (3, 4, 6, 3)): 'ResNet-50', (True, (3, 4, 23, 3)): 'ResNet-101',
            (True, (3, 8, 36, 3)): 'ResNet-152'}
_VGG_DEPTHS = {8: 11, 10: 13, 13: 16, 16: 19}  # VGG-n by its number of convs
_PART_RANK = {'conv': 0, 'bn': 1, 'downsample': 2, 'weight': 0, 'bias': 1, 'running_mean': 2,
              'running_var': 3}


def _network_order(name: str) -> list[tuple]:
  """A sort key that puts torchvision names roughly in the order the network runs them."""
  key = []
  for part in name.split('.'):
    if part.isdigit():
      key.append((0, int(part), 0, ''))
    else:
      alpha, digits = re.fullmatch(r'(.*?)(\d*)', part).groups()
      key.append((1, int(digits) if digits else 1 << 30, _PART_RANK.get(alpha, 9), alpha))
  return key


def _guess_network(names) -> tuple[str, str | None, tuple[int, ...]] | None:
  """(what the names look like, the --arch that imports it or None, ResNet stage sizes)."""
  blocks = {}
  for name in names:
    found = re.match(r'layer(\d+)\.(\d+)\.', name)
    if found:
      stage, block = int(found.group(1)), int(found.group(2))
      blocks[stage] = max(blocks.get(stage, 0), block + 1)
  if blocks:
    sizes = tuple(blocks.get(s, 0) for s in range(1, max(blocks) + 1))
    bottleneck = any('.conv3.' in name for name in names)
    known = _RESNETS.get((bottleneck, sizes))
    label = (f'{"a " + known if known else "a ResNet"} ({",".join(map(str, sizes))} '
             f'{"Bottleneck" if bottleneck else "BasicBlock"}s per stage)')
    return label, 'resnet50' if bottleneck else 'resnet18', sizes
  convs = {n.split('.')[1] for n in names if re.fullmatch(r'features\.\d+\.weight', n)}
  norms = {n.split('.')[1] for n in names if re.fullmatch(r'features\.\d+\.running_mean', n)}
  if 'classifier.0.weight' in names and convs:
    depth = _VGG_DEPTHS.get(len(convs - norms))
    label = (f'a VGG-{depth}' if depth else f'a VGG with {len(convs - norms)} convs') + (
        '-BN (with batch norm)' if norms else '')
    return label, 'vgg16' if depth == 16 and not norms else None, ()
  if 'classifier.1.weight' in names and 'features.10.weight' in names:
    return 'an AlexNet', 'alexnet', ()
  return None


def _hint(names, arch: str, backbone_kwargs) -> str | None:
  """'is it a ResNet-34 (...)? Import it with ...', when the names look like another network."""
  guess = _guess_network(names)
  if guess is None:
    return None
  label, body, sizes = guess
  standard = backbones.RESNET_STAGE_SIZES
  asked = tuple(backbone_kwargs.get('stage_sizes') or standard.get(arch, ()))
  if body == arch and sizes == asked:
    return None
  if body is None:
    return (f'is it {label}? aesthetic_jax has no backbone for it; give the weights of '
            f'torchvision\'s {", ".join(backbones.BODIES)}.')
  divisor = backbone_kwargs.get('width_divisor', 1)
  flags = f'--arch={body}' + (f' --width_divisor={divisor}' if divisor != 1 else '')
  if sizes and (sizes != standard[body] or backbone_kwargs.get('stage_sizes')):
    shown = ','.join(map(str, sizes))
    return (f'is it {label}? Import it with {flags} --stage_sizes={shown} and train with '
            f'model.body={body!r}, model.stage_sizes=({shown}).')
  return f'is it {label}? Import it with {flags} (and train with model.body={body!r}).'


def _missing_message(source: str, entry: Entry, arch: str, state_dict, backbone_kwargs) -> str:
  sample = ', '.join(repr(n) for n in sorted(state_dict, key=_network_order)[:3])
  advice = _hint(state_dict, arch, backbone_kwargs)
  if advice is None and any('/' in n or ':' in n for n in state_dict):
    advice = (f"these are TensorFlow/Keras- or Flax-style names, not a torchvision state dict; "
              f'export the weights of torchvision.models.{arch} (model.state_dict()).')
  return (f'{source}: no tensor {entry.torch_name!r} (shape {entry.torch_shape}), which {arch} '
          f'{_describe(backbone_kwargs)} needs first; the file has {len(state_dict)} tensors '
          f'({sample}, ...): ' + (advice or f'is it a torchvision {arch} state dict? Export the '
                                  f'weights of torchvision.models.{arch} (model.state_dict()).'))


def _check_all_used(source: str, arch: str, state_dict, layout, backbone_kwargs) -> None:
  """Refuses a file with tensors the backbone lacks (beyond the ImageNet classifier)."""
  used = {e.torch_name for e in layout} | set(CLASSIFIER[arch])
  extra = sorted((n for n in state_dict if n not in used and not n.endswith(SKIPPED_SUFFIXES)),
                 key=_network_order)
  if not extra:
    return
  shown = ', '.join(repr(n) for n in extra[:3]) + (', ...' if len(extra) > 3 else '')
  advice = _hint(state_dict, arch, backbone_kwargs) or (
      f'it is not a torchvision {arch} state dict; import it with the --arch (and '
      '--stage_sizes) of the network it was saved from.')
  raise WeightMismatchError(
      f'{source}: has {extra[0]!r}, which {arch} {_describe(backbone_kwargs)} does not have '
      f'({len(extra)} tensors besides the ImageNet classifier would go unused: {shown}): '
      f'{advice}')


def convert(arch: str, state_dict: Mapping[str, np.ndarray], *, source: str = '<memory>',
            **backbone_kwargs) -> tuple[dict[str, Any], ImportReport]:
  """torchvision state dict -> (backbone variables {'params', 'batch_stats'?}, report).

  Raises:
    WeightMismatchError: naming the first tensor (in network order) that is missing or has
      another shape than the backbone built with `backbone_kwargs` needs, or the first one
      the backbone does not have (only the ImageNet classifier may go unused).
    WeightFileError: naming the first tensor with NaN or Inf values.
  """
  report = ImportReport(arch, source, dict(backbone_kwargs))
  layout = torchvision_layout(arch, **backbone_kwargs)
  for entry in layout:
    if entry.torch_name not in state_dict:
      raise WeightMismatchError(
          _missing_message(source, entry, arch, state_dict, backbone_kwargs))
    shape = tuple(np.shape(state_dict[entry.torch_name]))
    if shape != entry.torch_shape:
      advice = _hint(state_dict, arch, backbone_kwargs) or (
          'import it with the --arch and --width_divisor of the network it was saved from.')
      raise WeightMismatchError(
          f'{source}: tensor {entry.torch_name!r} has shape {shape}; {arch} '
          f'{_describe(backbone_kwargs)} needs {entry.torch_shape}: {advice}')
  _check_all_used(source, arch, state_dict, layout, backbone_kwargs)
  flat = {}
  for entry in layout:
    array = np.asarray(state_dict[entry.torch_name])
    value = array.astype(np.float32)
    finite = np.isfinite(value)
    if not finite.all():
      raise WeightFileError(
          f'{source}: tensor {entry.torch_name!r} has {value.size - int(finite.sum()):,} NaN or '
          f'Inf values (of {value.size:,}): pretrained weights with NaN or Inf are broken; '
          'download the file again, or export it from a model that did not diverge.')
    if array.dtype != np.float32:
      report.cast.append(entry.torch_name)
    flat[(entry.collection,) + entry.path] = _to_flax(value, entry.path[-1])
    report.loaded += 1
    report.loaded_values += array.size
  for name in sorted(set(state_dict) - {e.torch_name for e in layout}):
    (report.skipped if name.endswith(SKIPPED_SUFFIXES) else report.unused).append(name)
  return flax.traverse_util.unflatten_dict(flat), report


def _describe(backbone_kwargs) -> str:
  shown = {k: v for k, v in backbone_kwargs.items()
           if k in ('width_divisor', 'stage_sizes') and v not in (1, (), None)}
  return f'({", ".join(f"{k}={v}" for k, v in shown.items())})' if shown else '(full size)'


# ---------------------------------------------------------------------------------------------
# Writing and loading imported backbones.


def _folders_to_make(folder: str) -> list[str]:
  """The folders that writing into `folder` creates, deepest first."""
  made, folder = [], os.path.abspath(folder)
  while not os.path.exists(folder) and os.path.dirname(folder) != folder:
    made.append(folder)
    folder = os.path.dirname(folder)
  return made


def save_backbone(out_dir: str, variables: Mapping[str, Any], report: ImportReport) -> str:
  """Writes DIR/backbone.npz (its report inside) and DIR/import_report.json; the .npz path.

  Both are written in full under temporary names before either is renamed into place, the
  .npz first; a failure leaves DIR as it was (and removes it if it was created here).
  """
  record = files.jsonable(dataclasses.asdict(report))
  arrays = {k: np.asarray(v)
            for k, v in flax.traverse_util.flatten_dict(dict(variables), sep='/').items()}
  arrays[_REPORT_KEY] = np.asarray(json.dumps(record, allow_nan=False))
  path = os.path.join(out_dir, BACKBONE_FILE)
  made = _folders_to_make(out_dir)
  try:
    # The inner writer renames first: the .npz, which load_backbone trusts for its report.
    with files.atomic_writer(os.path.join(out_dir, REPORT_FILE)) as report_file, \
        files.atomic_writer(path, binary=True) as npz_file:
      json.dump(record, report_file, indent=1, allow_nan=False)
      report_file.write('\n')
      np.savez(npz_file, **arrays)
  except BaseException:
    for folder in made:
      try:
        os.rmdir(folder)
      except OSError:
        break
    raise
  return path


def load_backbone(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
  """(variables, import report) from a folder written by `import` (or its backbone.npz)."""
  path = os.path.expanduser(path)
  folder = path if os.path.isdir(path) else os.path.dirname(path)
  npz_path = os.path.join(folder, BACKBONE_FILE) if os.path.isdir(path) else path
  with np.load(npz_path, allow_pickle=False) as npz:
    arrays = {k: npz[k] for k in npz.files}
  embedded = arrays.pop(_REPORT_KEY, None)
  report = {}
  if embedded is not None:
    report = json.loads(embedded.item())
  elif os.path.exists(os.path.join(folder, REPORT_FILE)):  # imported before reports were inside
    report = files.read_json(os.path.join(folder, REPORT_FILE))
  return flax.traverse_util.unflatten_dict(arrays, sep='/'), report


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def import_torchvision(arch: str, src: str, out: str, *, width_divisor: int = 1,
                       stage_sizes: Sequence[int] = ()) -> ImportReport:
  """Reads torchvision weights from `src`, checks and converts them, writes them to `out`.

  Raises:
    WeightFileError: `src` refused (unreadable, malformed, broken values, another network)
      or `out` not writable; nothing is then written to `out`.
  """
  kwargs = dict(width_divisor=width_divisor, stage_sizes=tuple(stage_sizes))
  if arch not in backbones.BODIES:
    raise ValueError(f'Unknown arch {arch!r}; choose one of {backbones.BODIES}.')
  if os.path.exists(out) and not os.path.isdir(out):
    raise WeightFileError(f'{out}: a file, not a folder; give --out a folder for '
                          f'{BACKBONE_FILE} and {REPORT_FILE}.')
  variables, report = convert(arch, read_state_dict(src), source=src, **kwargs)
  try:
    report.source_sha256 = _sha256(os.path.expanduser(src))
  except OSError as error:
    raise WeightFileError(f'{src}: cannot be read again ({error.strerror or error}); check '
                          'the file and its permissions.') from None
  try:
    save_backbone(out, variables, report)
  except OSError as error:
    raise WeightFileError(f'{out}: cannot write the import there ({error.strerror or error}), '
                          'so nothing was written; choose another --out or free some space.'
                          ) from None
  return report
