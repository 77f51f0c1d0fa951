"""A GGUF version 3 writer: metadata key/values, then tensor infos, then aligned tensor data.

Only the value and tensor types the default model needs: integers, floats, bools, strings
and arrays of them; F32, F16 and Q8_0 tensors.
"""
import os
import struct

import numpy as np

ALIGNMENT = 32

# gguf_type
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, \
    FLOAT64 = range(13)
# ggml_type
F32, F16, Q8_0 = 0, 1, 8
QK8_0 = 32


class UInt32(int):
  pass


class Int32(int):
  pass


def quantize_q8_0(x):
  """Rows of 32-value blocks: an f16 scale d = max|x| / 127, then 32 int8 codes round(x/d)."""
  x = np.ascontiguousarray(x, dtype=np.float32)
  if x.shape[-1] % QK8_0 != 0:
    raise ValueError(f"Q8_0 needs rows that are a multiple of {QK8_0}, got {x.shape}")
  blocks = x.reshape(-1, QK8_0)
  d = np.abs(blocks).max(axis=1) / 127.0
  inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
  q = np.round(blocks * inv[:, None]).clip(-127, 127).astype(np.int8)
  out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", QK8_0)])
  out["d"] = d.astype(np.float16)
  out["qs"] = q
  return out.tobytes()


def dequantize_q8_0(x):
  """What a reader of quantize_q8_0's output sees (the scale is rounded to f16 first)."""
  x = np.ascontiguousarray(x, dtype=np.float32)
  blocks = x.reshape(-1, QK8_0)
  d = (np.abs(blocks).max(axis=1) / 127.0).astype(np.float16).astype(np.float32)
  d_exact = np.abs(blocks).max(axis=1) / 127.0
  inv = np.where(d_exact > 0, 1.0 / np.where(d_exact > 0, d_exact, 1), 0.0)
  q = np.round(blocks * inv[:, None]).clip(-127, 127)
  return (q * d[:, None]).reshape(x.shape).astype(np.float32)


class Writer:
  def __init__(self):
    self.kv = []
    self.tensors = []  # (name, ggml dims, ggml type, bytes)

  def add(self, key, value):
    self.kv.append((key, value))

  def add_tensor(self, name, array, ggml_type):
    """array is row-major with the torch shape; GGUF lists the dimensions innermost first."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    dims = list(reversed(array.shape))
    if ggml_type == F32:
      data = array.tobytes()
    elif ggml_type == F16:
      data = array.astype(np.float16).tobytes()
    elif ggml_type == Q8_0:
      data = quantize_q8_0(array)
    else:
      raise ValueError(f"unsupported tensor type {ggml_type}")
    self.tensors.append((name, dims, ggml_type, data))

  @staticmethod
  def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b

  def _value(self, v):
    """(gguf_type, encoded bytes) of a Python value."""
    if isinstance(v, bool):
      return BOOL, struct.pack("<?", v)
    if isinstance(v, UInt32):
      return UINT32, struct.pack("<I", v)
    if isinstance(v, Int32):
      return INT32, struct.pack("<i", v)
    if isinstance(v, int):
      return UINT32 if 0 <= v < 2**32 else INT64, \
          struct.pack("<I", v) if 0 <= v < 2**32 else struct.pack("<q", v)
    if isinstance(v, float):
      return FLOAT32, struct.pack("<f", v)
    if isinstance(v, str):
      return STRING, self._string(v)
    if isinstance(v, (list, tuple)):
      if not v:
        raise ValueError("empty arrays have no element type")
      types = {self._value(e)[0] for e in v}
      if len(types) != 1:
        raise ValueError("array elements must share one type")
      t = types.pop()
      body = b"".join(self._value(e)[1] for e in v)
      return ARRAY, struct.pack("<IQ", t, len(v)) + body
    raise TypeError(f"cannot store {type(v).__name__} in GGUF metadata")

  def write(self, path):
    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))
    for key, value in self.kv:
      t, body = self._value(value)
      out += self._string(key) + struct.pack("<I", t) + body
    offset = 0
    offsets = []
    for name, dims, ggml_type, data in self.tensors:
      offsets.append(offset)
      out += self._string(name) + struct.pack("<I", len(dims))
      out += b"".join(struct.pack("<Q", d) for d in dims)
      out += struct.pack("<IQ", ggml_type, offset)
      offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    out += bytes(-len(out) % ALIGNMENT)
    for (_, _, _, data), off in zip(self.tensors, offsets):
      out += data + bytes(-len(data) % ALIGNMENT)
    with open(path + ".tmp", "wb") as f:
      f.write(out)
    os.replace(path + ".tmp", path)
