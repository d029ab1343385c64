"""torchvision ImageNet weights -> the Flax backbones' variables (no network, no PyTorch).

  python -m aesthetic_jax.weights import --arch=resnet50 --src=resnet50.safetensors --out=DIR

or `torchvision.import_torchvision('resnet50', src, out)` from Python. `src` is a `.safetensors`
or `.npz` file of the state dict (or a `.pth`/`.pt` one when PyTorch is installed). Every
tensor the Flax backbone needs is checked by name and shape, in the network's order, and
the first one missing or misshapen stops the import with its name. Tensors the backbone does
not use (the ImageNet classifier, e.g. `fc.weight`) are reported. DIR receives
`backbone.npz` (the backbone's variables: 'params/...' and, for ResNets,
'batch_stats/...') and `import_report.json`; `--config.model.init_from=DIR` loads them.

Conversion (models/backbones.py names each module after its torchvision one, '.' -> '_'):
conv weight (O, I, kh, kw) -> kernel (kh, kw, I, O); linear weight (O, I) -> kernel (I, O);
BN weight/bias -> scale/bias; running_mean/var -> batch_stats mean/var. `num_batches_tracked`
is skipped (flax's batch norm has no counter).
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Mapping, Sequence

import flax.linen as nn
import flax.traverse_util
import numpy as np

from aesthetic_jax.model import backbones

BACKBONE_FILE = 'backbone.npz'
REPORT_FILE = 'import_report.json'
SKIPPED_SUFFIXES = ('num_batches_tracked',)
_LEAF_TO_TORCH = {('params', 'kernel'): 'weight', ('params', 'bias'): 'bias',
                  ('params', 'scale'): 'weight', ('batch_stats', 'mean'): 'running_mean',
                  ('batch_stats', 'var'): 'running_var'}


class WeightMismatchError(ValueError):
  """A tensor the model needs is missing from the file or has another shape."""


# ---------------------------------------------------------------------------------------------
# Reading state dicts.

_SAFETENSORS_DTYPES = {'F64': np.float64, 'F32': np.float32, 'F16': np.float16,
                       'I64': np.int64, 'I32': np.int32, 'I16': np.int16, 'I8': np.int8,
                       'U8': np.uint8, 'BOOL': np.bool_}


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
  """The tensors of a .safetensors file (any dtype, bfloat16 included) as numpy arrays."""
  with open(path, 'rb') as f:
    header_size = int.from_bytes(f.read(8), 'little')
    header = json.loads(f.read(header_size))
    data = f.read()
  header.pop('__metadata__', None)
  tensors = {}
  for name, info in header.items():
    if info['dtype'] == 'BF16':
      import ml_dtypes  # pylint: disable=g-import-not-at-top  (installed with jax)
      dtype = ml_dtypes.bfloat16
    elif info['dtype'] in _SAFETENSORS_DTYPES:
      dtype = _SAFETENSORS_DTYPES[info['dtype']]
    else:
      raise ValueError(f'{path}: tensor {name!r} has unsupported dtype {info["dtype"]}.')
    start, end = info['data_offsets']
    tensors[name] = np.frombuffer(data[start:end], dtype).reshape(info['shape']).copy()
  return tensors


def _read_pth(path: str) -> dict[str, np.ndarray]:
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ImportError(
        f'{path} is a PyTorch file and PyTorch is not installed (it is never a dependency of '
        'aesthetic_jax). Convert it where torch is installed, e.g.\n'
        "  python -c \"import torch; from safetensors.torch import save_file; "
        "save_file(torch.load('X.pth'), 'X.safetensors')\"") from None
  state = torch.load(path, map_location='cpu', weights_only=True)
  for key in ('state_dict', 'model'):  # training checkpoints often wrap the state dict
    if isinstance(state, dict) and isinstance(state.get(key), dict):
      state = state[key]
  return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
          for k, v in state.items() if hasattr(v, 'numpy')}


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """name -> array of a state dict saved as .safetensors, .npz, or .pth/.pt (needs torch).

  A 'module.' prefix on every name (torch.nn.DataParallel) is removed.
  """
  path = os.path.expanduser(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No weights file at {path}.')
  if path.endswith('.safetensors'):
    state = _read_safetensors(path)
  elif path.endswith('.npz'):
    with np.load(path, allow_pickle=False) as npz:
      state = {k: npz[k] for k in npz.files}
  elif path.endswith(('.pth', '.pt')):
    state = _read_pth(path)
  else:
    raise ValueError(f'{path}: unknown weights format; use .safetensors, .npz or .pth.')
  if state and all(k.startswith('module.') for k in state):
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


def convert(arch: str, state_dict: Mapping[str, np.ndarray], *, source: str = '<memory>',
            **backbone_kwargs) -> tuple[dict[str, Any], ImportReport]:
  """torchvision state dict -> (backbone variables {'params', 'batch_stats'?}, report).

  Raises:
    WeightMismatchError: naming the first tensor (in network order) that is missing or has
      another shape than the backbone built with `backbone_kwargs` needs.
  """
  report = ImportReport(arch, source, dict(backbone_kwargs))
  flat = {}
  layout = torchvision_layout(arch, **backbone_kwargs)
  for entry in layout:
    if entry.torch_name not in state_dict:
      raise WeightMismatchError(
          f'{source}: no tensor {entry.torch_name!r} (shape {entry.torch_shape}), which '
          f'{arch} needs first; is it a torchvision {arch} state dict? It has '
          f'{len(state_dict)} tensors, e.g. {sorted(state_dict)[:4]}.')
    array = np.asarray(state_dict[entry.torch_name])
    if tuple(array.shape) != entry.torch_shape:
      raise WeightMismatchError(
          f'{source}: tensor {entry.torch_name!r} has shape {tuple(array.shape)}; {arch} '
          f'{_describe(backbone_kwargs)} needs {entry.torch_shape}.')
    if array.dtype != np.float32:
      report.cast.append(entry.torch_name)
    leaf = entry.path[-1]
    flat[(entry.collection,) + entry.path] = _to_flax(array.astype(np.float32), leaf)
    report.loaded += 1
    report.loaded_values += array.size
  used = {e.torch_name for e in layout}
  for name in sorted(state_dict):
    if name not in used:
      (report.skipped if name.endswith(SKIPPED_SUFFIXES) else report.unused).append(name)
  return flax.traverse_util.unflatten_dict(flat), report


def _describe(backbone_kwargs) -> str:
  shown = {k: v for k, v in backbone_kwargs.items()
           if k in ('width_divisor', 'stage_sizes') and v not in (1, (), None)}
  return f'({", ".join(f"{k}={v}" for k, v in shown.items())})' if shown else '(full size)'


def save_backbone(out_dir: str, variables: Mapping[str, Any], report: ImportReport) -> str:
  """Writes DIR/backbone.npz and DIR/import_report.json; returns the .npz path."""
  os.makedirs(out_dir, exist_ok=True)
  flat = flax.traverse_util.flatten_dict(dict(variables), sep='/')
  path = os.path.join(out_dir, BACKBONE_FILE)
  np.savez(path + '.tmp.npz', **{k: np.asarray(v) for k, v in flat.items()})
  os.replace(path + '.tmp.npz', path)
  record = dataclasses.asdict(report)
  record['backbone_kwargs'] = {k: list(v) if isinstance(v, tuple) else v
                               for k, v in report.backbone_kwargs.items()}
  with open(os.path.join(out_dir, REPORT_FILE), 'w') as f:
    json.dump(record, f, indent=1)
  return path


def load_backbone(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
  """(variables, import report) from a folder written by `import` (or its backbone.npz)."""
  path = os.path.expanduser(path)
  folder = path if os.path.isdir(path) else os.path.dirname(path)
  npz_path = os.path.join(folder, BACKBONE_FILE) if os.path.isdir(path) else path
  with np.load(npz_path, allow_pickle=False) as npz:
    variables = flax.traverse_util.unflatten_dict({k: npz[k] for k in npz.files}, sep='/')
  report_path = os.path.join(folder, REPORT_FILE)
  report = {}
  if os.path.exists(report_path):
    with open(report_path) as f:
      report = json.load(f)
  return variables, report


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def import_torchvision(arch: str, src: str, out: str, *, width_divisor: int = 1,
                       stage_sizes: Sequence[int] = ()) -> ImportReport:
  """Reads torchvision weights from `src`, checks and converts them, writes them to `out`."""
  kwargs = dict(width_divisor=width_divisor, stage_sizes=tuple(stage_sizes))
  if arch not in backbones.BODIES:
    raise ValueError(f'Unknown arch {arch!r}; choose one of {backbones.BODIES}.')
  variables, report = convert(arch, read_state_dict(src), source=src, **kwargs)
  report.source_sha256 = _sha256(os.path.expanduser(src))
  save_backbone(out, variables, report)
  return report
