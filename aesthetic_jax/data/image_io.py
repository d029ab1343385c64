"""Reading image files safely, and decoding them the way an image viewer shows them.

    data = read_file(path, max_bytes=DEFAULT_MAX_BYTES)        # never blocks, never unbounded
    rgb = decode_rgb(data, max_pixels=DEFAULT_MAX_PIXELS, draft_size=256)  # uint8 (H, W, 3)
    pixels = warp(rgb, 256)                                    # uint8 (256, 256, 3)

`warp(decode_rgb(data, draft_size=size), size)` is bit-identical to what
`preprocessing.decode_and_warp(data, size)` has always produced for an ordinary 8-bit RGB JPEG
without an EXIF orientation, so trained models see the same pixels. It differs (on purpose)
where decode_and_warp was wrong: sideways phone photos (EXIF orientation), 16-bit grayscale
(clipped to white by PIL's convert('RGB')), float images, transparency (PIL drops alpha,
showing whatever colour the transparent pixels happen to hold; here they are white).

Every refusal or failure is an `ImageReadError` (an OSError) whose `reason` is one of the
short constants below, e.g. str(error) == 'too large: 13000 x 13000 pixels > 67108864'.

Memory: one decode holds at most about `decoded_bytes_bound(max_pixels)` bytes besides the
file's bytes (at most max_bytes), so a pool of N decoding workers needs about
N * (max_bytes + decoded_bytes_bound(max_pixels)) in the worst case.

Thread safety: every function may run on many threads at once. Pillow's decompression-bomb
warning and its notes on odd metadata are silenced around the (short, header-only) calls that
emit them, under one module lock, because Python's warning filters are process-global: other
threads' warnings raised inside those windows are silenced too.
"""

import io
import os
import stat
import threading
import warnings

import numpy as np
from PIL import Image

# ---------------------------------------------------------------------------------------------
# Limits.

# Files larger than this are refused before reading; reading holds at most this + 1 bytes.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # 256 MiB

# Pixels (width x height) an image may have AFTER the JPEG draft reduction. 64 megapixels is a
# 9000 x 7100 photo (bigger than any phone's). Decoding an 8-bit RGB/RGBA/CMYK/16-bit image of
# that size peaks at about 7-8 bytes per pixel (0.45-0.5 GiB); the worst formats more (see
# PEAK_BYTES_PER_PIXEL): decoded_bytes_bound(DEFAULT_MAX_PIXELS) = 1.66 GiB.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024

# A header may claim at most this many times max_pixels: only a (single-scan) JPEG reduced by
# draft_size can get under max_pixels from there (a 100-megapixel photo drafted to 1/8 is
# fine, and its decoder streams: 19 MiB peak for 12000 x 9000); no header can make a decoder
# allocate for billions of pixels. Pillow's own guard (2 * PIL.Image.MAX_IMAGE_PIXELS, 179
# megapixels by default) applies too; both give ImageReadError('too large').
HEADER_PIXELS_FACTOR = 16

# Peak bytes per pixel (after draft) of one decode, beyond the encoded bytes, measured as the
# growth of VmHWM in a fresh process decoding 8000 x 8000 images (`python
# tests/test_image_io.py` prints such numbers): baseline JPEG, PNG, TIFF (RGB, RGBA, 16-bit,
# float, palette): 4.8-7.8; CMYK JPEG 7.2; progressive JPEG (all DCT coefficients of the full
# image are held: 3 bytes per pixel for 4:2:0, up to 8 for CMYK 4:4:4) 10-12; AVIF 9.4; WebP
# 16 (libwebp's canvas and frame copies); JPEG 2000 19-24.4 (OpenJPEG holds int32 components).
PEAK_BYTES_PER_PIXEL = 26
# Fixed overhead of one decode beyond the pixels (decoder state, row buffers, palettes).
DECODE_OVERHEAD_BYTES = 32 * 1024 * 1024

# Formats Pillow can identify but that are not decoded here: EPS is rendered by running
# Ghostscript on the file's PostScript, which untrusted files must not reach.
REFUSED_FORMATS = frozenset({'EPS'})

# Reasons (ImageReadError.reason).
NOT_REGULAR = 'not a regular file'
TOO_LARGE = 'too large'
UNREADABLE = 'unreadable'  # the OS refused: missing, permission denied, I/O error, ...
NOT_AN_IMAGE = 'not an image'
CORRUPT = 'corrupt'  # identified as an image but truncated or undecodable
UNSUPPORTED = 'unsupported format'
OUT_OF_MEMORY = 'out of memory'


def decoded_bytes_bound(max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
  """Peak bytes one `decode_rgb(..., max_pixels=max_pixels)` can hold, beyond the encoded
  bytes it was given (size a pool of decoding workers by this plus max_bytes each)."""
  return PEAK_BYTES_PER_PIXEL * max_pixels + DECODE_OVERHEAD_BYTES


class ImageReadError(OSError):
  """A file that cannot be read as an image; `reason` is one of the short constants of this
  module ('not a regular file', 'too large', 'not an image', 'corrupt', ...), `detail` the
  specifics. str(): 'reason: detail'."""

  def __init__(self, reason: str, detail: str = ''):
    super().__init__(f'{reason}: {detail}' if detail else reason)
    self.reason = reason
    self.detail = detail

  def __reduce__(self):  # picklable across worker processes
    return type(self), (self.reason, self.detail)


# ---------------------------------------------------------------------------------------------
# Reading files.

def file_kind(mode: int) -> str:
  """'regular file', 'directory', 'fifo', 'socket', 'character device', ... of an st_mode."""
  for test, name in ((stat.S_ISREG, 'regular file'), (stat.S_ISDIR, 'directory'),
                     (stat.S_ISFIFO, 'fifo'), (stat.S_ISSOCK, 'socket'),
                     (stat.S_ISCHR, 'character device'), (stat.S_ISBLK, 'block device'),
                     (stat.S_ISLNK, 'symbolic link')):
    if test(mode):
      return name
  return 'special file'


def not_regular_error(mode: int) -> ImageReadError:
  """ImageReadError('not a regular file: fifo') etc. for an st_mode."""
  return ImageReadError(NOT_REGULAR, file_kind(mode))


_OPEN_FLAGS = (os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0)
               | getattr(os, 'O_BINARY', 0))
_MIN_READ = 1 << 16


def read_file(path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
  """The bytes of the regular file `path` (symbolic links followed), at most max_bytes.

  Never blocks and never reads without bound: anything that is not a regular file (a FIFO,
  a socket, a character or block device such as /dev/zero, also through a symbolic link, a
  directory) is refused before reading, by stat() and again by fstat() of the opened
  descriptor (opened non-blocking, without becoming a controlling terminal); a file whose
  size is over max_bytes is refused, and a file growing while read is read to at most
  max_bytes + 1 bytes and refused. Raises ImageReadError (reason NOT_REGULAR, TOO_LARGE or
  UNREADABLE, the latter chained to the OSError).
  """
  try:
    # stat first: a device is refused without even opening it (opening one can have effects).
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
      raise not_regular_error(before.st_mode)
    fd = os.open(path, _OPEN_FLAGS)
  except ImageReadError:
    raise
  except OSError as e:
    raise ImageReadError(UNREADABLE, e.strerror or str(e)) from e
  try:
    try:
      info = os.fstat(fd)  # what was actually opened (the path may have changed meanwhile)
      if not stat.S_ISREG(info.st_mode):
        raise not_regular_error(info.st_mode)
      if info.st_size > max_bytes:
        raise ImageReadError(TOO_LARGE, f'{info.st_size} bytes > {max_bytes}')
      if hasattr(os, 'set_blocking'):
        os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
      limit = max_bytes + 1
      # One read normally returns the whole file; the +1 (and any further read) sees EOF.
      want = min(info.st_size + 1, limit)
      chunks, total = [], 0
      while total < limit:
        chunk = os.read(fd, min(max(want - total, _MIN_READ), limit - total))
        if not chunk:
          break
        chunks.append(chunk)
        total += len(chunk)
    except ImageReadError:
      raise
    except OSError as e:
      raise ImageReadError(UNREADABLE, e.strerror or str(e)) from e
  finally:
    os.close(fd)
  if total > max_bytes:
    raise ImageReadError(TOO_LARGE, f'more than {max_bytes} bytes (the file grew while read)')
  return chunks[0] if len(chunks) == 1 else b''.join(chunks)


# ---------------------------------------------------------------------------------------------
# Decoding.

_QUIET_LOCK = threading.Lock()


class _Quiet:
  """Silences warnings (Pillow's DecompressionBombWarning, 'Corrupt EXIF data', ...) for a
  short header-level call; serialised so that concurrent uses restore the filters right."""

  def __enter__(self):
    _QUIET_LOCK.acquire()
    self._catch = warnings.catch_warnings()
    self._catch.__enter__()
    warnings.simplefilter('ignore')

  def __exit__(self, *exc):
    try:
      self._catch.__exit__(*exc)
    finally:
      _QUIET_LOCK.release()


def _failure(error: Exception) -> ImageReadError:
  if isinstance(error, Image.UnidentifiedImageError):  # (its message names a BytesIO)
    return ImageReadError(NOT_AN_IMAGE, 'the file format is not recognised')
  if isinstance(error, Image.DecompressionBombError):
    return ImageReadError(TOO_LARGE, str(error))
  if isinstance(error, MemoryError):
    return ImageReadError(OUT_OF_MEMORY, str(error))
  return ImageReadError(CORRUPT, f'{type(error).__name__}: {error}')


def _jpeg_scans_after_first(data: bytes) -> bool:
  """Whether a JPEG holds more than one scan (progressive, or sequential with separate
  component scans): then libjpeg keeps the DCT coefficients of the whole full-size image
  (2 bytes per coefficient), however small the draft output. Walks the marker segments to the
  first SOS (skipping APPn segments, which may hold a thumbnail with its own SOS), then looks
  for another SOS marker: 0xFF 0xDA cannot occur inside entropy-coded data (0xFF is stuffed),
  so a hit is a further scan, or data after the image (then we are merely conservative)."""
  pos, n = 2, len(data)
  while pos + 4 <= n:
    if data[pos] != 0xFF:
      return True  # not a well-formed marker sequence: assume the worst
    marker = data[pos + 1]
    if marker == 0xFF:  # fill byte
      pos += 1
      continue
    if marker == 0xDA:  # the first SOS: its header, then entropy-coded data
      length = int.from_bytes(data[pos + 2:pos + 4], 'big')
      return data.find(b'\xff\xda', pos + 2 + length) != -1
    if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # standalone markers
      pos += 2
      continue
    pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
  return True


_TRANSPOSES = {  # EXIF orientation -> the numpy equivalent of PIL.ImageOps.exif_transpose
    2: lambda a: a[:, ::-1],                 # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],              # ROTATE_180
    4: lambda a: a[::-1],                    # FLIP_TOP_BOTTOM
    5: lambda a: a.transpose(1, 0, 2),       # TRANSPOSE
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],     # ROTATE_270 (90 degrees clockwise)
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],  # TRANSVERSE
    8: lambda a: a.transpose(1, 0, 2)[::-1],        # ROTATE_90 (90 degrees anticlockwise)
}


def exif_orientation(image: Image.Image) -> int:
  """The EXIF orientation 1..8 of a loaded image; 1 (as stored) when absent, malformed or
  unreadable (a corrupt EXIF block never fails the image)."""
  try:
    with _Quiet():
      value = image.getexif().get(0x0112, 1)  # ExifTags.Base.Orientation
  except Exception:  # pylint: disable=broad-except
    return 1
  if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 1 <= value <= 8:
    return int(value)
  return 1


# Conversion to RGB runs over bands of rows (about _BAND_PIXELS each) into one preallocated
# uint8 (H, W, 3) array: the peak is the decoded image plus the result (7 bytes per pixel for
# RGB, CMYK or RGBA), not the 2-3 full-size temporaries of convert() + np.asarray() (whose
# tobytes() alone holds the data twice).
_BAND_PIXELS = 1 << 20


def _scale_16bit(values: np.ndarray) -> np.ndarray:
  """0..65535 -> 0..255 by dropping the low byte (v >> 8), as a viewer shows 16-bit data."""
  return (values >> 8).astype(np.uint8)


def _stretch(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
  """lo..hi -> 0..255 linearly (rounded; NaN -> 0, clipped)."""
  out = values.astype(np.float64)
  out -= lo
  out *= 255.0 / (hi - lo) if hi > lo else 0.0
  np.nan_to_num(out, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
  np.clip(out, 0.0, 255.0, out=out)
  return np.rint(out, out=out).astype(np.uint8)


def _float_range(image: Image.Image, bands) -> tuple[float, float]:
  lo, hi = np.inf, -np.inf
  for band in bands():
    values = np.asarray(band)
    finite = values[np.isfinite(values)]
    if finite.size:
      lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
  return (0.0, 1.0) if lo > hi else (lo, hi)


def _on_white(rgba: np.ndarray) -> np.ndarray:
  """uint8 (h, w, 4) composited onto white -> uint8 (h, w, 3), rounded (alpha 255 keeps the
  colour exactly, alpha 0 gives white)."""
  alpha = rgba[:, :, 3:].astype(np.uint32)
  out = rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127
  return (out // 255).astype(np.uint8)


def _band_converter(image: Image.Image, bands):
  """fn(band image of `image`'s mode) -> uint8 (h, w, 3) or (h, w, 1) (gray, broadcast)."""
  mode = image.mode
  transparency = image.info.get('transparency')
  if mode in ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I'):
    if mode == 'I':
      # 'I' holding 0..65535 is 16-bit data (Pillow opens some 16-bit PNG/PGM/TIFF files as
      # 'I'): v >> 8. Any other range (negative, or over 65535) is stretched min..max.
      lo, hi = image.getextrema()
      if lo >= 0 and hi <= 65535:
        to_8bit = _scale_16bit
      elif lo == hi:  # a constant image: its value clipped to 0..65535
        to_8bit = lambda v: _scale_16bit(np.clip(v, 0, 65535))
      else:
        to_8bit = lambda v: _stretch(v, lo, hi)
    else:
      to_8bit = _scale_16bit

    def gray16(band):
      values = np.asarray(band)
      gray = to_8bit(values)
      if isinstance(transparency, int):  # a PNG tRNS colour key on the raw values
        gray[values == transparency] = 255
      return gray[:, :, None]
    return gray16
  if mode == 'F':
    # Values within [0, 1] are intensities (x 255); any other range is stretched min..max
    # (of the finite values); NaN and -inf -> 0, +inf -> 255.
    lo, hi = _float_range(image, bands)
    if (lo >= 0.0 and hi <= 1.0) or lo == hi:  # (a constant image: its value clipped to 0..1)
      lo, hi = 0.0, 1.0
    return lambda band: _stretch(np.asarray(band), lo, hi)[:, :, None]
  has_alpha = (mode in ('RGBA', 'LA', 'La', 'RGBa', 'PA')
               or (transparency is not None and mode in ('1', 'L', 'RGB', 'P'))
               or (mode == 'P' and image.palette is not None and image.palette.mode == 'RGBA'))
  if has_alpha:  # (a PNG tRNS colour key: those pixels are transparent)
    return lambda band: _on_white(np.asarray(band.convert('RGBA')))
  if mode == 'RGB':
    return np.asarray
  if mode == 'L':
    return lambda band: np.asarray(band)[:, :, None]
  if mode == '1':
    return lambda band: np.asarray(band.convert('L'))[:, :, None]

  def pillow(band):  # P, CMYK, YCbCr, LAB, HSV, RGBX, ...: Pillow's conversions
    try:
      return np.asarray(band.convert('RGB'))
    except ValueError as e:
      raise ImageReadError(UNSUPPORTED, f'image mode {mode}: {e}') from e
  return pillow


def _to_rgb(image: Image.Image) -> np.ndarray:
  """A loaded image of any mode -> uint8 (H, W, 3), transparent pixels on white."""
  width, height = image.size
  rows = max(1, _BAND_PIXELS // max(width, 1))

  def bands():
    if rows >= height:
      yield image
      return
    for top in range(0, height, rows):
      yield image.crop((0, top, width, min(top + rows, height)))

  convert = _band_converter(image, bands)
  out = np.empty((height, width, 3), np.uint8)
  top = 0
  for band in bands():
    out[top:top + band.size[1]] = convert(band)
    top += band.size[1]
  return out


def decode_rgb(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               draft_size: int | None = None,
               max_header_pixels: int | None = None) -> np.ndarray:
  """Encoded image bytes (JPEG, PNG, GIF, WebP, TIFF, BMP, ... anything Pillow reads except
  REFUSED_FORMATS) -> uint8 (H, W, 3) RGB, the image as a viewer shows it:

  * upright: the EXIF orientation is applied (like PIL.ImageOps.exif_transpose; a missing,
    malformed or corrupt EXIF block means no rotation);
  * transparent and half-transparent pixels composited onto WHITE (RGBA, LA, palette images
    with transparency, PNG colour keys);
  * 16-bit grayscale ('I;16', 'I;16B', 'I;16L') scaled to 8 bits as v >> 8 (PIL's own
    convert('RGB') clips everything above 255 to white); 32-bit 'I' the same when its
    values are within 0..65535, otherwise stretched min..max to 0..255; float 'F' x 255 when
    within [0, 1], otherwise stretched min..max (NaN -> 0); 1-bit, L, CMYK, YCbCr, LAB, ...
    by Pillow's conversions (an embedded ICC profile is not applied);
  * animated images (GIF, APNG, WebP): the first frame; multi-page TIFF: the first page.

  draft_size: when given, a JPEG is decoded at a reduced scale (1/2, 1/4 or 1/8) that keeps
  both sides >= draft_size (Pillow's draft mode; much faster for big photos; what
  preprocessing.decode_and_warp does). Other formats decode at full size.

  Limits, checked from the header before any pixel buffer is allocated: width x height after
  the draft reduction <= max_pixels; before it <= max_header_pixels (default
  HEADER_PIXELS_FACTOR x max_pixels) and Pillow's decompression-bomb limit; a JPEG with
  several scans (progressive) <= max_pixels before the reduction too, since its decoder holds
  the full-size DCT coefficients. Peak memory: decoded_bytes_bound(max_pixels).

  Returns a new, writable array. Raises ImageReadError: reason NOT_AN_IMAGE (not identified),
  TOO_LARGE, CORRUPT (truncated or undecodable; detail = the decoder's message),
  UNSUPPORTED, OUT_OF_MEMORY.
  """
  if max_header_pixels is None:
    max_header_pixels = HEADER_PIXELS_FACTOR * max_pixels
  if not data:
    raise ImageReadError(NOT_AN_IMAGE, 'empty file')
  try:
    with _Quiet():  # Pillow warns (DecompressionBombWarning) over MAX_IMAGE_PIXELS
      image = Image.open(io.BytesIO(data))
  except Exception as e:  # pylint: disable=broad-except
    raise _failure(e) from e
  try:
    width, height = image.size
    if image.format in REFUSED_FORMATS:
      raise ImageReadError(UNSUPPORTED, f'{image.format} files are not decoded')
    if width * height > max_header_pixels:
      raise ImageReadError(TOO_LARGE, f'{width} x {height} pixels > {max_header_pixels}')
    if (image.format in ('JPEG', 'MPO') and width * height > max_pixels
        and _jpeg_scans_after_first(data)):
      raise ImageReadError(TOO_LARGE, f'{width} x {height} pixels > {max_pixels} '
                                      '(a progressive JPEG is decoded at full size)')
    if draft_size:
      image.draft('RGB', (draft_size, draft_size))  # JPEG only; before the orientation
    width, height = image.size
    if width * height > max_pixels:
      raise ImageReadError(TOO_LARGE, f'{width} x {height} pixels > {max_pixels}')
    image.load()  # the first frame
    orientation = exif_orientation(image)
    pixels = _to_rgb(image)
  except ImageReadError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise _failure(e) from e
  finally:
    image.close()  # frees the decoded image now (Pillow's `with` does not)
  if orientation != 1:
    pixels = np.ascontiguousarray(_TRANSPOSES[orientation](pixels))
  return pixels


def pil_to_rgb(image: Image.Image) -> np.ndarray:
  """An in-memory PIL image -> uint8 (H, W, 3) as decode_rgb shows a file: its EXIF
  orientation applied, any mode converted, transparency on white."""
  image.load()
  orientation = exif_orientation(image)
  pixels = _to_rgb(image)
  if orientation != 1:
    pixels = np.ascontiguousarray(_TRANSPOSES[orientation](pixels))
  return pixels


def warp(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 (H, W, 3) -> uint8 (size, size, 3): resized without keeping the aspect ratio,
  PIL bilinear, exactly as preprocessing.decode_and_warp resizes (bit-identical). The result
  is read-only (like decode_and_warp's), or `image` itself when it has the size already."""
  if image.shape[:2] == (size, size):
    return image
  image = Image.fromarray(np.asarray(image, np.uint8))
  return np.asarray(image.resize((size, size), Image.BILINEAR))


def read_image(path, *, size: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """read_file + decode_rgb (+ warp to size x size, with the JPEG draft, when size is given):
  the one call for a path. Raises ImageReadError."""
  image = decode_rgb(read_file(path, max_bytes=max_bytes), max_pixels=max_pixels,
                     draft_size=size)
  return warp(image, size) if size else image
