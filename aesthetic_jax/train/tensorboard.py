"""TensorBoard event files (scalars, PNG images) written without TensorFlow or protobuf.

An event file is a sequence of TFRecords, each one serialised `Event` proto (TensorBoard's
tensorboard/compat/proto/event.proto and summary.proto), the first with only `file_version`.
No process filtering: in multi-process training only one process should make a writer.
"""

import io
import itertools
import logging
import numbers
import os
import socket
import struct
import time
from typing import Iterator, Mapping

import numpy as np
from PIL import Image

_log = logging.getLogger(__name__)
_U32 = 0xFFFFFFFF
_FILE_UIDS = itertools.count()  # Distinguishes writers opened by one process in one second.


def _crc_entry(crc: int) -> int:
  for _ in range(8):
    crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)  # Castagnoli polynomial, bit-reflected.
  return crc


_CRC_TABLE = [_crc_entry(byte) for byte in range(256)]


def crc32c(data: bytes) -> int:
  """CRC-32C (Castagnoli) of `data`, as an unsigned 32-bit int."""
  crc = _U32
  for byte in data:
    crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ _U32


def masked_crc32c(data: bytes) -> int:
  """The TFRecord checksum: CRC-32C of `data`, rotated right by 15 bits plus a constant."""
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & _U32


def tfrecord(payload: bytes) -> bytes:
  """Frames `payload` as one TFRecord."""
  header = struct.pack('<Q', len(payload))
  return (header + struct.pack('<I', masked_crc32c(header)) + payload +
          struct.pack('<I', masked_crc32c(payload)))


def read_records(path: str) -> Iterator[bytes]:
  """Yields the payloads of the TFRecord file `path`; ValueError on a bad CRC or truncation."""
  with open(path, 'rb') as f:
    while header := f.read(8):
      header_crc = f.read(4)
      if len(header) < 8 or len(header_crc) < 4:
        raise ValueError(f'{path}: truncated record header')
      if struct.unpack('<I', header_crc)[0] != masked_crc32c(header):
        raise ValueError(f'{path}: record length fails its CRC')
      length = struct.unpack('<Q', header)[0]
      payload, payload_crc = f.read(length), f.read(4)
      if len(payload) < length or len(payload_crc) < 4:
        raise ValueError(f'{path}: truncated record')
      if struct.unpack('<I', payload_crc)[0] != masked_crc32c(payload):
        raise ValueError(f'{path}: record payload fails its CRC')
      yield payload


# Protobuf wire format: key = field << 3 | wire type (0 varint, 1 64-bit, 2 bytes, 5 32-bit).
def _varint(n: int) -> bytes:
  n &= (1 << 64) - 1  # Negative int64s take ten bytes, two's complement.
  out = bytearray()
  while n > 0x7F:
    out.append(n & 0x7F | 0x80)
    n >>= 7
  out.append(n)
  return bytes(out)


def _int(field: int, n: int) -> bytes:
  return _varint(field << 3) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
  return _varint(field << 3 | 2) + _varint(len(data)) + data


def _as_float(value) -> float | None:
  """`value` as a float if it is one real number (bool, int, numpy scalar, 0-d array), else None."""
  if not isinstance(value, (numbers.Real, np.bool_)) and (
      not hasattr(value, 'dtype') or np.ndim(value) != 0 or np.dtype(value.dtype).kind in 'cOSU'):
    return None  # Strings, None, lists, complex numbers, arrays of more than one number.
  try:
    return float(value)
  except (TypeError, ValueError, OverflowError):
    return None


def _as_uint8_image(image) -> np.ndarray | None:
  """(H, W[, C]) array of any real dtype -> uint8 (H, W) or (H, W, 3|4), or None if unusable."""
  try:
    image = np.asarray(image)
  except (TypeError, ValueError):  # E.g. a ragged list.
    return None
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if (image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4))
      or image.size == 0 or image.dtype.kind not in 'biuf'):
    return None
  if image.dtype.kind in 'bf':  # Floats are in [0, 1]; NaN becomes 0.
    image = np.round(np.nan_to_num(np.clip(image.astype(np.float64), 0., 1.)) * 255.)
  return np.clip(image, 0, 255).astype(np.uint8)


class SummaryWriter:
  """Appends scalar and image summaries to a new event file in `logdir`.

  Records go through a buffered file: `flush()` pushes them to the OS (and fsyncs), `close()`
  flushes and closes. Odd values never raise: numbers of any kind are converted, anything
  else (strings, None, lists, non-0-d arrays, images of an unusable shape) is skipped.
  """

  def __init__(self, logdir: str):
    os.makedirs(logdir, exist_ok=True)
    self._file = None
    while self._file is None:  # The file-name convention of TensorBoard's own EventFileWriter.
      self.path = os.path.join(logdir, 'events.out.tfevents.%010d.%s.%s.%s' % (
          time.time(), socket.gethostname(), os.getpid(), next(_FILE_UIDS)))
      try:
        self._file = open(self.path, 'xb')  # Buffered; never reuses another writer's file.
      except FileExistsError:
        pass
    self._write(_bytes(3, b'brain.Event:2'), step=0)

  def _write(self, what: bytes, step: int) -> None:
    if self._file is None:
      raise RuntimeError(f'SummaryWriter for {self.path} is closed')
    # Event: wall_time (field 1, double), step (2, int64), then file_version (3) or summary (5).
    event = _varint(1 << 3 | 1) + struct.pack('<d', time.time()) + _int(2, int(step)) + what
    self._file.write(tfrecord(event))

  def _summary(self, tag: str, value: bytes, step: int) -> None:
    summary_value = _bytes(1, str(tag).encode('utf-8')) + value  # Summary.Value: tag, value.
    self._write(_bytes(5, _bytes(1, summary_value)), step)  # Event.summary.value[0].

  def scalar(self, tag: str, value: float, step: int) -> None:
    """Writes `value` (stored as float32; NaN/Inf kept) at `step`; skips non-numbers."""
    value = _as_float(value)
    if value is not None:
      with np.errstate(over='ignore'):
        as_f32 = np.asarray(value, dtype='<f4').tobytes()
      self._summary(tag, _varint(2 << 3 | 5) + as_f32, step)  # Summary.Value.simple_value.

  def scalars(self, values: Mapping[str, float], step: int, prefix: str = '') -> None:
    """Writes each real-number entry of `values` as scalar `prefix + key` at `step`."""
    for key, value in values.items():
      self.scalar(f'{prefix}{key}', value, step)

  def image(self, tag: str, image: np.ndarray, step: int) -> None:
    """Writes `image` as a PNG at `step`.

    Args:
      tag: the image's name.
      image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); uint8 as is, floats (and bools) in
        [0, 1] scaled by 255, other integers clipped to [0, 255]. Other shapes are skipped.
      step: the training step.
    """
    pixels = _as_uint8_image(image)
    if pixels is None:
      _log.warning('SummaryWriter: skipping image %r of unusable shape/dtype', tag)
      return
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format='PNG')
    colorspace = 1 if pixels.ndim == 2 else pixels.shape[-1]  # Grey, RGB or RGBA.
    encoded = (_int(1, pixels.shape[0]) + _int(2, pixels.shape[1]) + _int(3, colorspace) +
               _bytes(4, png.getvalue()))  # Summary.Image: height, width, colorspace, PNG.
    self._summary(tag, _bytes(4, encoded), step)  # Summary.Value.image.

  def restart(self, step: int) -> None:
    """Marks a resumed run: a SessionLog START at `step` (Event field 6, status 1), on which
    TensorBoard drops what earlier files logged past `step` (the steps trained again)."""
    self._write(_bytes(6, _int(1, 1)), step)

  def flush(self) -> None:
    """Pushes buffered records to the OS and asks it to put them on disk."""
    if self._file is not None:
      self._file.flush()
      try:
        os.fsync(self._file.fileno())
      except OSError:  # Some file systems cannot fsync; the data is with the OS regardless.
        pass

  def close(self) -> None:
    """Flushes and closes the file; further calls do nothing."""
    if self._file is not None:
      self.flush()
      self._file.close()
      self._file = None

  def __enter__(self) -> 'SummaryWriter':
    return self

  def __exit__(self, *exc) -> None:
    self.close()


_BLUE, _WHITE, _RED = np.array([33., 102., 172.]), np.full(3, 255.), np.array([178., 24., 43.])


def heatmap_image(matrix: np.ndarray, *, vmin: float = -1.0, vmax: float = 1.0,
                  cell: int = 8) -> np.ndarray:
  """A blue-white-red picture of `matrix` (e.g. a correlation matrix) for `SummaryWriter.image`.

  Args:
    matrix: (T, T) (any (R, C)) floats; `vmin` maps to blue, the midpoint to white, `vmax`
      to red, values outside are clipped, NaN is grey.
    vmin, vmax: the colour scale's ends, vmin < vmax.
    cell: the side in pixels of each matrix entry's square.

  Returns:
    uint8 (T * cell, T * cell, 3).
  """
  matrix = np.asarray(matrix, np.float64)
  if matrix.ndim != 2 or not vmin < vmax or cell < 1:
    raise ValueError(f'heatmap_image: matrix {matrix.shape}, vmin {vmin}, vmax {vmax}, '
                     f'cell {cell}')
  t = np.clip((matrix - vmin) / (vmax - vmin), 0., 1.)[..., None] * 2. - 1.  # In [-1, 1].
  end = np.where(t < 0, _BLUE, _RED)
  rgb = _WHITE + np.abs(t) * (end - _WHITE)
  rgb = np.where(np.isnan(t), 128., rgb)
  pixels = np.round(rgb).astype(np.uint8)
  return np.repeat(np.repeat(pixels, cell, axis=0), cell, axis=1)
