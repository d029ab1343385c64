"""aesthetic_jax.data.image_io: safe reading, viewer-faithful decoding, the warp.

`python tests/test_image_io.py` prints the peak memory (VmHWM growth, in a fresh process) of
decoding a 13000 x 13000 PNG with and without the pixel limit.
"""

import io
import json
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from aesthetic_jax.data import image_io
from aesthetic_jax.data import preprocessing
from aesthetic_jax.data.image_io import ImageReadError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------
# Helpers.

def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, fmt, **kwargs)
  return buffer.getvalue()


def _photo(width: int, height: int, seed: int = 0) -> Image.Image:
  """Smooth random RGB content (like a photo: JPEG-friendly)."""
  rng = np.random.default_rng(seed)
  small = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3), np.uint8)
  return Image.fromarray(small).resize((width, height), Image.BICUBIC)


def _quadrants(width: int = 64, height: int = 32) -> np.ndarray:
  """An asymmetric uint8 (H, W, 3) image: four flat quadrants of distinct colours."""
  colours = [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (255, 255, 0)]]
  image = np.zeros((height, width, 3), np.uint8)
  for i in range(2):
    for j in range(2):
      image[i * height // 2:(i + 1) * height // 2, j * width // 2:(j + 1) * width // 2] = \
          colours[i][j]
  return image


def _exif(orientation) -> bytes:
  exif = Image.Exif()
  exif[0x0112] = orientation
  return exif.tobytes()


def _raw_exif(entries, count=None) -> bytes:
  """An EXIF block (big-endian TIFF) with IFD0 entries (tag, type, count, 4 value bytes)."""
  body = b'MM\x00*' + struct.pack('>IH', 8, len(entries) if count is None else count)
  for tag, kind, n, value in entries:
    body += struct.pack('>HHI', tag, kind, n) + value
  return b'Exif\x00\x00' + body + b'\x00\x00\x00\x00'


def _chunk(kind: bytes, payload: bytes) -> bytes:
  return (struct.pack('>I', len(payload)) + kind + payload
          + struct.pack('>I', zlib.crc32(kind + payload)))


def _ihdr(width: int, height: int) -> bytes:
  return b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2,
                                                           0, 0, 0))


def png_solid(width: int, height: int, rgb=(30, 120, 200)) -> bytes:
  """A valid RGB PNG of one colour, built row by row (tiny on disk, never in memory whole)."""
  row = b'\x00' + bytes(rgb) * width
  compressor = zlib.compressobj(1)
  block = 64
  parts = [compressor.compress(row * block) for _ in range(height // block)]
  parts += [compressor.compress(row * (height % block)), compressor.flush()]
  return _ihdr(width, height) + _chunk(b'IDAT', b''.join(parts)) + _chunk(b'IEND', b'')


def png_header_only(width: int, height: int) -> bytes:
  """A PNG whose header claims width x height, with (far too little) pixel data."""
  return (_ihdr(width, height) + _chunk(b'IDAT', zlib.compress(b'\x00' * 100))
          + _chunk(b'IEND', b''))


def _in_thread(fn, timeout: float, unblock=None):
  """fn() on a daemon thread: its result or exception, failing if it takes over `timeout`
  seconds (then `unblock()` releases it, so a regression costs seconds, not a hung run)."""
  result = {}

  def run():
    try:
      result['value'] = fn()
    except BaseException as e:  # pylint: disable=broad-except
      result['error'] = e
  thread = threading.Thread(target=run, daemon=True)
  start = time.monotonic()
  thread.start()
  thread.join(timeout)
  if thread.is_alive():
    if unblock:
      unblock()
    pytest.fail(f'blocked for more than {timeout} s')
  result['seconds'] = time.monotonic() - start
  return result


def _refusal(fn) -> ImageReadError:
  with pytest.raises(ImageReadError) as info:
    fn()
  return info.value


# ---------------------------------------------------------------------------------------------
# read_file.

def test_fifo_refused_immediately(tmp_path):
  fifo = str(tmp_path / 'fifo.jpg')
  os.mkfifo(fifo)

  def unblock():  # a writer releases a reader blocked in open()/read()
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
  result = _in_thread(lambda: image_io.read_file(fifo, max_bytes=1000), 3.0, unblock)
  error = result.get('error')
  assert isinstance(error, ImageReadError), result
  assert error.reason == image_io.NOT_REGULAR and str(error) == 'not a regular file: fifo'
  assert result['seconds'] < 1.0


def test_fifo_refused_by_fstat_when_stat_lied(tmp_path, monkeypatch):
  """The descriptor's own fstat refuses it too (the path may change between the checks)."""
  fifo, regular = str(tmp_path / 'fifo.jpg'), str(tmp_path / 'regular.jpg')
  os.mkfifo(fifo)
  open(regular, 'wb').close()
  real_stat = os.stat
  monkeypatch.setattr(os, 'stat', lambda p, *a, **k: real_stat(regular if p == fifo else p,
                                                                *a, **k))

  def unblock():
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
  result = _in_thread(lambda: image_io.read_file(fifo, max_bytes=1000), 3.0, unblock)
  assert isinstance(result.get('error'), ImageReadError), result
  assert str(result['error']) == 'not a regular file: fifo'


def test_link_to_dev_zero_refused_without_reading(tmp_path, monkeypatch):
  if not os.path.exists('/dev/zero'):
    pytest.skip('no /dev/zero')
  link = str(tmp_path / 'zero.jpg')
  os.symlink('/dev/zero', link)
  reads = []
  real_read = os.read
  monkeypatch.setattr(os, 'read', lambda fd, n: reads.append(n) or real_read(fd, n))
  result = _in_thread(lambda: image_io.read_file(link, max_bytes=1 << 20), 3.0)
  assert isinstance(result.get('error'), ImageReadError), result
  assert str(result['error']) == 'not a regular file: character device'
  assert not reads
  # The same through the descriptor check, when the first stat is fooled.
  regular = str(tmp_path / 'regular.jpg')
  open(regular, 'wb').close()
  real_stat = os.stat
  monkeypatch.setattr(os, 'stat', lambda p, *a, **k: real_stat(regular if p == link else p,
                                                                *a, **k))
  result = _in_thread(lambda: image_io.read_file(link, max_bytes=1 << 20), 3.0)
  assert str(result.get('error')) == 'not a regular file: character device'
  assert not reads


def test_directory_and_socket_refused(tmp_path):
  error = _refusal(lambda: image_io.read_file(str(tmp_path), max_bytes=100))
  assert str(error) == 'not a regular file: directory'
  path = str(tmp_path / 's.jpg')
  with socket.socket(socket.AF_UNIX) as server:
    server.bind(path)
    error = _refusal(lambda: image_io.read_file(path, max_bytes=100))
  assert str(error) == 'not a regular file: socket'


def test_size_limit(tmp_path):
  path = tmp_path / 'big.jpg'
  path.write_bytes(b'x' * 1000)
  assert image_io.read_file(str(path), max_bytes=1000) == b'x' * 1000
  error = _refusal(lambda: image_io.read_file(str(path), max_bytes=999))
  assert error.reason == image_io.TOO_LARGE and '1000 bytes > 999' in str(error)


def test_a_file_longer_than_its_size_is_read_at_most_max_bytes_plus_one(monkeypatch):
  # /proc files are regular files of size 0 with content: the case of a file that grew.
  path = '/proc/self/status'
  if not os.path.exists(path):
    pytest.skip('no /proc')
  assert b'VmRSS' in image_io.read_file(path, max_bytes=1 << 20)
  asked = []
  real_read = os.read
  monkeypatch.setattr(os, 'read', lambda fd, n: asked.append(n) or real_read(fd, n))
  error = _refusal(lambda: image_io.read_file(path, max_bytes=100))
  assert error.reason == image_io.TOO_LARGE and 'grew' in str(error)
  assert sum(asked) <= 101


def test_unreadable_files(tmp_path):
  error = _refusal(lambda: image_io.read_file(str(tmp_path / 'missing.jpg'), max_bytes=10))
  assert error.reason == image_io.UNREADABLE and isinstance(error.__cause__, FileNotFoundError)
  assert isinstance(error, OSError)


def test_error_is_picklable():
  error = ImageReadError(image_io.CORRUPT, 'OSError: broken data stream')
  again = pickle.loads(pickle.dumps(error))
  assert (again.reason, again.detail, str(again)) == (error.reason, error.detail, str(error))


# ---------------------------------------------------------------------------------------------
# decode_rgb: limits.

_CHILD = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from aesthetic_jax.data import image_io

def hwm():
  with open('/proc/self/status') as f:
    return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmHWM'))

data = open(sys.argv[2], 'rb').read()
base = hwm()
start = time.perf_counter()
kwargs = json.loads(sys.argv[3])
try:
  shape, error = list(image_io.decode_rgb(data, **kwargs).shape), ''
except image_io.ImageReadError as e:
  shape, error = None, str(e)
print(json.dumps({'shape': shape, 'error': error, 'seconds': time.perf_counter() - start,
                  'peak_growth': hwm() - base}))
'''


def decode_peak(path: str, **kwargs) -> dict:
  """decode_rgb(bytes of path, **kwargs) in a fresh process: shape or error, seconds, and how
  much the peak resident memory (VmHWM) grew during the call, in bytes."""
  out = subprocess.run([sys.executable, '-c', _CHILD, REPO, path, json.dumps(kwargs)],
                       capture_output=True, text=True, timeout=120, check=True)
  return json.loads(out.stdout)


@pytest.fixture(scope='module')
def huge_png(tmp_path_factory) -> str:
  path = str(tmp_path_factory.mktemp('huge') / 'solid_13000.png')
  with open(path, 'wb') as f:
    f.write(png_solid(13000, 13000))
  return path


@pytest.mark.skipif(not os.path.exists('/proc/self/status'), reason='needs /proc (VmHWM)')
def test_huge_png_refused_before_allocation(huge_png):
  result = decode_peak(huge_png)  # the default limit: 64 megapixels < 169
  assert result['error'] == 'too large: 13000 x 13000 pixels > 67108864', result
  assert result['seconds'] < 1.0
  assert result['peak_growth'] < 200 * 2**20, result


def test_pillow_bomb_error_becomes_image_read_error():
  # A header claiming 20000 x 20000 (over Pillow's 2 x MAX_IMAGE_PIXELS): Pillow refuses it
  # in Image.open even when our own limit would allow it.
  data = png_header_only(20000, 20000)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    error = _refusal(lambda: image_io.decode_rgb(data, max_pixels=10**9,
                                                 max_header_pixels=10**10))
  assert error.reason == image_io.TOO_LARGE and 'decompression bomb' in str(error)
  assert not caught


def test_pillow_bomb_warning_is_not_emitted(huge_png):
  """A 13000 x 13000 header (over MAX_IMAGE_PIXELS: Pillow warns) refused by our limit,
  without any warning escaping; the warning filters are left as they were."""
  data = open(huge_png, 'rb').read()
  filters = list(warnings.filters)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    error = _refusal(lambda: image_io.decode_rgb(data, max_pixels=10**6))
  assert error.reason == image_io.TOO_LARGE and not caught
  assert warnings.filters == filters


def _big_jpeg(progressive: bool) -> bytes:
  return _encode(_photo(4000, 3000), 'JPEG', quality=85, progressive=progressive)


def test_draft_reduces_big_jpegs_and_the_limit_applies_after_it():
  data = _big_jpeg(progressive=False)  # 12 megapixels
  image = image_io.decode_rgb(data, max_pixels=1_000_000, draft_size=256)
  assert image.shape == (375, 500, 3)  # 1/8: both sides still >= 256
  assert image_io.decode_rgb(data, max_pixels=1_000_000, draft_size=400).shape == (750, 1000, 3)
  error = _refusal(lambda: image_io.decode_rgb(data, max_pixels=1_000_000))  # no draft
  assert str(error) == 'too large: 4000 x 3000 pixels > 1000000'
  # The absolute header limit (16 x max_pixels by default) holds even with a draft.
  error = _refusal(lambda: image_io.decode_rgb(data, max_pixels=500_000, draft_size=256))
  assert str(error) == 'too large: 4000 x 3000 pixels > 8000000'


def test_progressive_jpegs_are_limited_before_the_draft():
  """libjpeg keeps every DCT coefficient of a progressive JPEG, whatever the draft scale."""
  data = _big_jpeg(progressive=True)
  error = _refusal(lambda: image_io.decode_rgb(data, max_pixels=1_000_000, draft_size=256))
  assert error.reason == image_io.TOO_LARGE and 'progressive' in str(error)
  assert image_io.decode_rgb(data, max_pixels=12_000_000, draft_size=256).shape == (375, 500, 3)
  # A baseline JPEG whose EXIF thumbnail (with its own scan) sits before the image: one scan.
  thumb = _encode(_photo(64, 48), 'JPEG')
  exif = Image.Exif()
  exif[0x0112] = 1
  with_thumb = _encode(_photo(4000, 3000), 'JPEG', exif=exif.tobytes() + thumb)
  assert image_io.decode_rgb(with_thumb, max_pixels=1_000_000, draft_size=256).shape == (
      375, 500, 3)


def test_decoding_failures():
  assert _refusal(lambda: image_io.decode_rgb(b'')).reason == image_io.NOT_AN_IMAGE
  error = _refusal(lambda: image_io.decode_rgb(b'just some text\n' * 10))
  assert str(error) == 'not an image: the file format is not recognised'
  jpeg = _encode(_photo(64, 64), 'JPEG')
  error = _refusal(lambda: image_io.decode_rgb(jpeg[:len(jpeg) // 2]))
  assert error.reason == image_io.CORRUPT and error.detail, error
  png = _encode(_photo(64, 64), 'PNG')
  broken = png[:60] + bytes(200) + png[260:]
  assert _refusal(lambda: image_io.decode_rgb(broken)).reason == image_io.CORRUPT


def test_eps_is_not_rendered():
  eps = b'%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\nshowpage\n'
  assert _refusal(lambda: image_io.decode_rgb(eps)).reason == image_io.UNSUPPORTED


def test_decoded_bytes_bound():
  assert image_io.decoded_bytes_bound(10**6) > 7 * 10**6
  assert image_io.decoded_bytes_bound(2 * 10**6) > image_io.decoded_bytes_bound(10**6)
  assert image_io.decoded_bytes_bound() < 2 * 2**30


# ---------------------------------------------------------------------------------------------
# decode_rgb: as a viewer shows it.

@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_like_exif_transpose(orientation):
  stored = _quadrants()
  data = _encode(Image.fromarray(stored), 'PNG', exif=_exif(orientation))
  expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert('RGB'))
  np.testing.assert_array_equal(image_io.decode_rgb(data), expected)


@pytest.mark.parametrize('orientation,upright', [
    (3, lambda a: np.rot90(a, 2)),
    (6, lambda a: np.rot90(a, -1)),  # stored 90 degrees anticlockwise: turn clockwise
    (8, lambda a: np.rot90(a, 1))])
@pytest.mark.parametrize('fmt', ['PNG', 'JPEG'])
def test_phone_photo_comes_out_upright(orientation, upright, fmt):
  stored = _quadrants()
  data = _encode(Image.fromarray(stored), fmt, exif=_exif(orientation))
  image = image_io.decode_rgb(data)
  expected = upright(stored)
  assert image.shape == expected.shape
  tolerance = 0 if fmt == 'PNG' else 40  # JPEG: flat quadrants, blurred edges
  assert np.mean(np.abs(image.astype(int) - expected)) <= tolerance / 4
  assert np.max(np.abs(image[4:-4:8, 4:-4:8].astype(int) - expected[4:-4:8, 4:-4:8])) <= \
      tolerance
  # With a draft too (the orientation is applied after the reduction).
  big = _encode(Image.fromarray(stored).resize((1024, 512), Image.NEAREST), 'JPEG',
                exif=_exif(orientation))
  small = image_io.decode_rgb(big, draft_size=128)
  assert small.shape == ((128, 256, 3) if orientation == 3 else (256, 128, 3))


@pytest.mark.parametrize('name,exif', [
    ('truncated', _raw_exif([(0x112, 3, 1, b'\x00\x06\x00\x00')])[:-10]),
    ('garbage', b'Exif\x00\x00' + bytes(range(256)) * 2),
    ('bad byte order', b'Exif\x00\x00XX\x00*\x00\x00\x00\x08'),
    ('only a header', b'Exif\x00\x00MM'),
    ('text orientation', _raw_exif([(0x112, 2, 4, b'abc\x00')])),
    ('orientation 99', _raw_exif([(0x112, 3, 1, b'\x00\x63\x00\x00')])),
    ('rational orientation', _raw_exif([(0x112, 5, 1, struct.pack('>I', 8))])),
    ('value past the end', _raw_exif([(0x112, 3, 100, b'\x7f\xff\xff\xff')])),
    ('IFD past the end', b'Exif\x00\x00MM\x00*' + struct.pack('>I', 0x7fffffff)),
])
def test_corrupt_exif_is_ignored(name, exif):
  del name
  stored = _quadrants()
  data = _encode(Image.fromarray(stored), 'JPEG', exif=exif)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    image = image_io.decode_rgb(data)
  assert image.shape == stored.shape  # not rotated
  assert not caught  # Pillow's 'Corrupt EXIF data' notes stay quiet


def test_exif_that_cannot_be_read_at_all_is_ignored(monkeypatch):
  data = _encode(Image.fromarray(_quadrants()), 'JPEG', exif=_exif(6))
  def broken(self):
    raise SyntaxError('unreadable EXIF')
  monkeypatch.setattr(Image.Image, 'getexif', broken)
  assert image_io.decode_rgb(data).shape == (32, 64, 3)


def test_16bit_grayscale_is_scaled_not_clipped():
  values = np.array([[0, 255, 256, 40000, 65535]], np.uint16)
  data = _encode(Image.fromarray(values), 'PNG')
  assert Image.open(io.BytesIO(data)).mode == 'I;16'
  assert Image.open(io.BytesIO(data)).convert('RGB').getpixel((3, 0)) == (255,) * 3  # PIL's bug
  image = image_io.decode_rgb(data)
  assert image.shape == (1, 5, 3) and image.dtype == np.uint8
  np.testing.assert_array_equal(image[0, :, 0], [0, 0, 1, 156, 255])
  np.testing.assert_array_equal(image[..., 0], image[..., 2])
  flat = _encode(Image.fromarray(np.full((4, 5), 40000, np.uint16)), 'PNG')
  assert (image_io.decode_rgb(flat) == 156).all()


@pytest.mark.parametrize('mode', ['I;16B', 'I;16L'])
def test_16bit_byte_orders(mode):
  values = np.array([[40000, 512, 65535]], np.uint16)
  image = Image.frombytes(mode, (3, 1), values.astype('>u2' if mode == 'I;16B' else '<u2')
                          .tobytes())
  assert image.mode == mode
  np.testing.assert_array_equal(image_io._to_rgb(image)[0, :, 1], [156, 2, 255])


def test_32bit_int_images():
  sixteen = np.array([[0, 40000, 65535]], np.int32)  # 16-bit data in mode 'I'
  data = _encode(Image.fromarray(sixteen), 'TIFF')
  assert Image.open(io.BytesIO(data)).mode == 'I'
  np.testing.assert_array_equal(image_io.decode_rgb(data)[0, :, 0], [0, 156, 255])
  wide = np.array([[-100, 0, 300]], np.int32)  # anything else: stretched min..max
  np.testing.assert_array_equal(
      image_io.decode_rgb(_encode(Image.fromarray(wide), 'TIFF'))[0, :, 0], [0, 64, 255])


def test_float_images():
  unit = np.array([[0.0, 0.5, 1.0, np.nan]], np.float32)  # [0, 1]: intensities
  data = _encode(Image.fromarray(unit), 'TIFF')
  assert Image.open(io.BytesIO(data)).mode == 'F'
  np.testing.assert_array_equal(image_io.decode_rgb(data)[0, :, 0], [0, 128, 255, 0])
  wide = np.array([[-1.0, 0.0, 3.0, np.inf]], np.float32)  # any other range: stretched
  np.testing.assert_array_equal(
      image_io.decode_rgb(_encode(Image.fromarray(wide), 'TIFF'))[0, :, 0], [0, 64, 255, 255])


def test_palette_transparency_on_white():
  image = Image.new('P', (4, 2), 0)
  image.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
  image.putpixel((1, 0), 1)
  for fmt in ('PNG', 'GIF'):
    data = _encode(image, fmt, transparency=0)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      rgb = image_io.decode_rgb(data)
    assert not caught
    assert tuple(rgb[0, 0]) == (255, 255, 255), fmt  # transparent red -> white
    assert tuple(rgb[0, 1]) == (0, 0, 255), fmt
    assert tuple(rgb[1, 3]) == (255, 255, 255), fmt
  opaque = image_io.decode_rgb(_encode(image, 'PNG'))
  assert tuple(opaque[0, 0]) == (255, 0, 0)


def test_alpha_on_white():
  rgba = np.zeros((1, 3, 4), np.uint8)
  rgba[0] = [(255, 0, 0, 0), (255, 0, 0, 255), (0, 0, 0, 128)]
  rgb = image_io.decode_rgb(_encode(Image.fromarray(rgba), 'PNG'))
  np.testing.assert_array_equal(rgb[0], [(255, 255, 255), (255, 0, 0), (127, 127, 127)])
  la = Image.fromarray(np.array([[[0, 0], [0, 255], [100, 128]]], np.uint8), 'LA')
  rgb = image_io.decode_rgb(_encode(la, 'PNG'))
  np.testing.assert_array_equal(rgb[0, :, 0], [255, 0, 177])
  key = Image.new('RGB', (2, 1), (10, 20, 30))
  key.putpixel((1, 0), (1, 2, 3))
  rgb = image_io.decode_rgb(_encode(key, 'PNG', transparency=(10, 20, 30)))  # a colour key
  np.testing.assert_array_equal(rgb[0], [(255, 255, 255), (1, 2, 3)])


def test_other_modes():
  bits = Image.new('1', (3, 1), 0)
  bits.putpixel((1, 0), 1)
  np.testing.assert_array_equal(image_io.decode_rgb(_encode(bits, 'PNG'))[0, :, 0], [0, 255, 0])
  cmyk = _encode(Image.new('CMYK', (16, 16), (0, 255, 255, 0)), 'JPEG')
  assert Image.open(io.BytesIO(cmyk)).mode == 'CMYK'
  rgb = image_io.decode_rgb(cmyk, draft_size=8)
  assert rgb.shape == (8, 8, 3)  # drafted to 1/2
  assert np.abs(rgb.astype(int) - (255, 0, 0)).max() <= 3
  gray = _encode(Image.new('L', (5, 4), 77), 'PNG')
  assert (image_io.decode_rgb(gray) == 77).all()
  lab = Image.new('RGB', (2, 2), (200, 30, 40)).convert('LAB')
  np.testing.assert_array_equal(image_io.decode_rgb(_encode(lab, 'TIFF')),
                                np.asarray(lab.convert('RGB')))
  for mode in ('YCbCr', 'HSV', 'RGBX', 'PA', 'RGBa'):
    image = Image.new(mode, (2, 2), (9, 99, 199, 255)[:len(mode)])
    assert image_io._to_rgb(image).shape == (2, 2, 3), mode


def test_animated_gif_first_frame():
  frames = [Image.new('RGB', (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
  buffer = io.BytesIO()
  frames[0].save(buffer, 'GIF', save_all=True, append_images=frames[1:], duration=100)
  rgb = image_io.decode_rgb(buffer.getvalue())
  assert rgb.shape == (8, 8, 3) and tuple(rgb[4, 4]) == (255, 0, 0)


def test_big_images_convert_in_bands(monkeypatch):
  """Images of several conversion bands decode exactly like PIL's convert."""
  monkeypatch.setattr(image_io, '_BAND_PIXELS', 5000)
  for size in ((300, 70), (60, 250), (7000, 2)):
    photo = _photo(*size)
    data = _encode(photo.convert('RGBA'), 'PNG')
    np.testing.assert_array_equal(image_io.decode_rgb(data), np.asarray(photo))
    cmyk = photo.convert('CMYK')
    np.testing.assert_array_equal(image_io._to_rgb(cmyk), np.asarray(cmyk.convert('RGB')))
    floats = Image.fromarray(np.asarray(photo.convert('L'), np.float32) * 2.0 - 100.0)
    values = np.asarray(photo.convert('L'), np.float64)
    stretched = np.rint((values - values.min()) * 255.0 / (values.max() - values.min()))
    np.testing.assert_array_equal(image_io._to_rgb(floats)[..., 0], stretched)


# ---------------------------------------------------------------------------------------------
# warp: the same pixels as the training pipeline's decode_and_warp.

@pytest.mark.parametrize('size', [(640, 480), (256, 256), (300, 1000), (2100, 1500),
                                  (1024, 257), (200, 120)])
@pytest.mark.parametrize('target', [224, 256])
def test_warp_bit_identical_to_decode_and_warp(size, target):
  data = _encode(_photo(*size, seed=size[0]), 'JPEG', quality=90)
  expected = preprocessing.decode_and_warp(data, target)
  warped = image_io.warp(image_io.decode_rgb(data, draft_size=target), target)
  assert warped.shape == (target, target, 3) and warped.dtype == np.uint8
  np.testing.assert_array_equal(warped, expected)


def test_warp_bit_identical_for_grayscale_jpeg():
  data = _encode(_photo(900, 700).convert('L'), 'JPEG')
  np.testing.assert_array_equal(image_io.warp(image_io.decode_rgb(data, draft_size=256), 256),
                                preprocessing.decode_and_warp(data, 256))


def test_read_image(tmp_path):
  path = tmp_path / 'photo.jpg'
  data = _encode(_photo(800, 600), 'JPEG')
  path.write_bytes(data)
  np.testing.assert_array_equal(image_io.read_image(str(path), size=256),
                                preprocessing.decode_and_warp(data, 256))
  assert image_io.read_image(str(path)).shape == (600, 800, 3)


def test_concurrent_decoding_leaves_warning_filters_alone():
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  filters = list(warnings.filters)
  data = [_encode(Image.fromarray(_quadrants()), 'JPEG', exif=_exif(o)) for o in range(1, 9)]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    shapes = list(pool.map(lambda d: image_io.decode_rgb(d).shape, data * 25))
  assert len(shapes) == 200
  assert warnings.filters == filters


# ---------------------------------------------------------------------------------------------

def _report():
  import tempfile  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, 'solid_13000.png')
    with open(path, 'wb') as f:
      f.write(png_solid(13000, 13000))
    print(f'13000 x 13000 RGB PNG, {os.path.getsize(path) / 2**20:.1f} MiB on disk:')
    for label, kwargs in (('default limit', {}), ('no limit', {'max_pixels': 10**9})):
      r = decode_peak(path, **kwargs)
      print(f'  {label:14s} peak growth {r["peak_growth"] / 2**20:8.1f} MiB  '
            f'{r["seconds"]:5.2f} s  {r["shape"] or r["error"]}')
    print(f'decoded_bytes_bound(DEFAULT_MAX_PIXELS) = '
          f'{image_io.decoded_bytes_bound() / 2**20:.0f} MiB')


if __name__ == '__main__':
  _report()
