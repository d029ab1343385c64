"""The event-file writer: its files are read back with TensorBoard's own readers."""

import io
import math
import os
import re
import socket
import time

import numpy as np
import pytest
from PIL import Image

from aesthetic_jax.train import tensorboard as tb


def _accumulator(logdir):
  event_accumulator = pytest.importorskip(
      'tensorboard.backend.event_processing.event_accumulator')
  acc = event_accumulator.EventAccumulator(logdir, size_guidance={'scalars': 0, 'images': 0})
  acc.Reload()
  return acc


def _events(path, migrate=False):
  """Every Event proto in `path`, as TensorBoard's own loader parses it.

  With `migrate`, passed through the read-time compatibility layers that the TensorBoard
  server applies (legacy simple_value / image summaries become tensors with plugin metadata).
  """
  loader = pytest.importorskip('tensorboard.backend.event_processing.event_file_loader')
  cls = loader.EventFileLoader if migrate else loader.LegacyEventFileLoader
  return list(cls(path).Load())


def test_crc32c_known_vectors():
  assert tb.crc32c(b'123456789') == 0xE3069283
  assert tb.crc32c(b'') == 0
  assert tb.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4.
  assert tb.crc32c(b'\xff' * 32) == 0x62A8AB43
  assert tb.masked_crc32c(b'') == 0xA282EAD8
  stub = pytest.importorskip('tensorboard.compat.tensorflow_stub.pywrap_tensorflow')
  rng = np.random.default_rng(0)
  for n in (1, 7, 8, 100, 1000):
    data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    assert tb.masked_crc32c(data) == stub.masked_crc32c(data)


def test_scalars_are_read_by_tensorboard(tmp_path):
  before = time.time()
  with tb.SummaryWriter(str(tmp_path)) as writer:
    for step in range(3):
      writer.scalar('loss', 1.0 / (step + 1), step)
    writer.scalars({'f32': np.float32(0.1), 'i64': np.int64(-7), 'int': 3, 'bool': True,
                    'zero_d': np.array(2.5), 'nan': float('nan'), 'inf': -math.inf,
                    'huge': 1e300, 'text': 'abc', 'none': None, 'list': [1.0],
                    'vector': np.ones(2), 'complex': 1j}, step=10, prefix='eval/')
    writer.scalar('big_step', 1.0, 2**40)
    writer.scalar('negative_step', 1.0, -1)
  acc = _accumulator(str(tmp_path))
  expected = {'eval/f32': np.float32(0.1), 'eval/i64': -7., 'eval/int': 3., 'eval/bool': 1.,
              'eval/zero_d': 2.5, 'eval/inf': -math.inf, 'eval/huge': math.inf}
  assert set(acc.Tags()['scalars']) == (
      {'loss', 'eval/nan', 'big_step', 'negative_step'} | set(expected))
  loss = acc.Scalars('loss')
  assert [e.step for e in loss] == [0, 1, 2]
  assert [e.value for e in loss] == [float(np.float32(1.0 / (s + 1))) for s in range(3)]
  assert all(before <= e.wall_time <= time.time() for e in loss)
  for tag, value in expected.items():
    [event] = acc.Scalars(tag)
    assert (event.step, event.value) == (10, float(np.float32(value))), tag
  assert math.isnan(acc.Scalars('eval/nan')[0].value)
  assert acc.Scalars('big_step')[0].step == 2**40
  assert acc.Scalars('negative_step')[0].step == -1


def test_file_name_and_version_record(tmp_path):
  logdir = tmp_path / 'new' / 'run'  # Created by the writer.
  writer = tb.SummaryWriter(str(logdir))
  writer.scalar('x', 1.0, 5)
  writer.close()
  pattern = r'events\.out\.tfevents\.\d{10}\.%s\.%d\.\d+' % (re.escape(socket.gethostname()),
                                                             os.getpid())
  assert os.listdir(logdir) == [os.path.basename(writer.path)]
  assert re.fullmatch(pattern, os.path.basename(writer.path))
  first, second = _events(writer.path)
  assert first.file_version == 'brain.Event:2'
  assert not first.HasField('summary')
  assert second.step == 5 and second.summary.value[0].tag == 'x'
  assert second.summary.value[0].simple_value == 1.0
  assert _accumulator(str(logdir)).file_version == 2.0
  value = _events(writer.path, migrate=True)[1].summary.value[0]  # What the server sees.
  assert value.metadata.plugin_data.plugin_name == 'scalars'
  assert list(value.tensor.float_val) == [1.0]


@pytest.mark.parametrize('shape', [(5, 7), (5, 7, 1), (5, 7, 3), (5, 7, 4)])
def test_uint8_image_round_trips(tmp_path, shape):
  pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
  with tb.SummaryWriter(str(tmp_path)) as writer:
    writer.image('img', pixels, step=3)
  [event] = _accumulator(str(tmp_path)).Images('img')
  assert (event.step, event.height, event.width) == (3, 5, 7)
  decoded = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))
  assert decoded.dtype == np.uint8
  np.testing.assert_array_equal(decoded, pixels.reshape(decoded.shape))
  assert decoded.size == pixels.size
  colorspace = _events(writer.path)[1].summary.value[0].image.colorspace
  assert colorspace == {2: 1, 1: 1, 3: 3, 4: 4}[shape[-1] if len(shape) == 3 else 2]


def test_float_image_is_scaled_and_odd_images_are_skipped(tmp_path):
  pixels = np.array([[0., 0.5, 1.], [2., -1., np.nan]], np.float32)
  with tb.SummaryWriter(str(tmp_path)) as writer:
    writer.image('float', pixels, step=0)
    for bad in ('picture', None, [[1, 2], [3]], np.ones(4), np.ones((2, 2, 5)),
                np.ones((0, 3)), np.ones((2, 2), complex)):
      writer.image('bad', bad, step=0)
    writer.image('heatmap', tb.heatmap_image(np.eye(3) * 2 - 1, cell=2), step=1)
  acc = _accumulator(str(tmp_path))
  assert set(acc.Tags()['images']) == {'float', 'heatmap'}
  decoded = np.asarray(Image.open(io.BytesIO(acc.Images('float')[0].encoded_image_string)))
  np.testing.assert_array_equal(decoded, [[0, 128, 255], [255, 0, 0]])
  [heatmap] = acc.Images('heatmap')
  assert (heatmap.height, heatmap.width) == (6, 6)


def test_several_writers_in_one_folder(tmp_path):
  writers = [tb.SummaryWriter(str(tmp_path)) for _ in range(3)]
  assert len({w.path for w in writers}) == 3
  for i, writer in enumerate(writers):
    writer.scalar(f'w{i}', float(i), step=i)
  for writer in writers:
    writer.close()
  assert len(os.listdir(tmp_path)) == 3
  for path in (w.path for w in writers):
    assert _events(path)[0].file_version == 'brain.Event:2'
  acc = _accumulator(str(tmp_path))
  assert sorted(acc.Tags()['scalars']) == ['w0', 'w1', 'w2']
  assert [acc.Scalars(f'w{i}')[0].value for i in range(3)] == [0., 1., 2.]


def test_a_corrupted_byte_is_noticed(tmp_path):
  with tb.SummaryWriter(str(tmp_path)) as writer:
    writer.scalar('a', 1.0, 1)
    writer.scalar('b', 2.0, 2)
  assert len(list(tb.read_records(writer.path))) == 3
  data = bytearray(open(writer.path, 'rb').read())
  data[-6] ^= 0x01  # Inside the last record's payload (its simple_value).
  with open(writer.path, 'wb') as f:
    f.write(data)
  with pytest.raises(ValueError, match='CRC'):
    list(tb.read_records(writer.path))
  # TensorBoard's reader (without TensorFlow: tensorboard.compat.tensorflow_stub) raises a
  # DataLossError on the bad CRC, which its loader swallows: it stops before the bad record.
  events = _events(writer.path)
  assert [e.summary.value[0].tag for e in events[1:]] == ['a']
  data[-6] ^= 0x01
  data[3] ^= 0x10  # The first record's length.
  with open(writer.path, 'wb') as f:
    f.write(data)
  with pytest.raises(ValueError, match='length'):
    list(tb.read_records(writer.path))
  assert _events(writer.path) == []
  data[3] ^= 0x10
  with open(writer.path, 'wb') as f:
    f.write(data[:-3])  # A record cut short, as by a crash mid-write.
  with pytest.raises(ValueError, match='truncated'):
    list(tb.read_records(writer.path))
  assert [e.summary.value[0].tag for e in _events(writer.path)[1:]] == ['a']


def test_flush_close_and_context_manager(tmp_path):
  writer = tb.SummaryWriter(str(tmp_path))
  writer.scalar('a', 1.0, 1)
  writer.flush()
  assert len(list(tb.read_records(writer.path))) == 2  # Readable while still open.
  writer.close()
  writer.close()
  writer.flush()
  with pytest.raises(RuntimeError, match='closed'):
    writer.scalar('a', 2.0, 2)
  with tb.SummaryWriter(str(tmp_path)) as other:
    other.scalar('b', 1.0, 1)
  assert other._file is None  # pylint: disable=protected-access
  assert len(list(tb.read_records(other.path))) == 2


def test_heatmap_image():
  matrix = np.array([[-1., 0., 1.], [-5., 5., np.nan]])
  image = tb.heatmap_image(matrix, cell=4)
  assert image.shape == (8, 12, 3) and image.dtype == np.uint8
  assert tb.heatmap_image(np.zeros((5, 5))).shape == (40, 40, 3)
  blocks = image.reshape(2, 4, 3, 4, 3)
  assert (blocks == blocks[:, :1, :, :1]).all()  # Each entry is one flat 4 x 4 square.
  colours = blocks[:, 0, :, 0].astype(int)
  blue, white, red = colours[0]
  assert blue[2] > 150 and blue[2] > blue[0] + 100 and blue[2] > blue[1]
  assert red[0] > 150 and red[0] > red[2] + 100 and red[0] > red[1]
  assert (white == 255).all()
  np.testing.assert_array_equal(colours[1, :2], [blue, red])  # Clipped to [vmin, vmax].
  assert (colours[1, 2] == 128).all()  # NaN: grey.
  half = tb.heatmap_image(np.array([[0.5]]), vmin=0., vmax=1., cell=1)[0, 0]
  assert (half == 255).all()
  with pytest.raises(ValueError):
    tb.heatmap_image(np.zeros(3))
  with pytest.raises(ValueError):
    tb.heatmap_image(np.zeros((2, 2)), vmin=1., vmax=1.)
