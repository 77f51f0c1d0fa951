#!/usr/bin/python3
"""A small, independent GGUF reader with numpy dequantizers.

Written from the GGUF format description and ggml's block layouts, sharing no code with
the C++ reader, so the two can check each other. Only struct and numpy are used.

    /usr/bin/python3 gguf_reader.py MODEL.gguf     # prints metadata and tensors
"""

import struct
import sys

import numpy as np

GGUF_MAGIC = 0x46554747  # "GGUF" little-endian

# GGUF metadata value types.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR_FMT = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}

# ggml tensor types: number -> (name, elements per block, bytes per block).
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    30: ("BF16", 1, 2),
}
TYPE_BY_NAME = {v[0]: k for k, v in GGML_TYPES.items()}


class GgufError(Exception):
    pass


class _Cursor:
    def __init__(self, buf, name):
        self.buf = buf
        self.pos = 0
        self.name = name

    def take(self, n, what):
        if self.pos + n > len(self.buf):
            raise GgufError(f"{self.name}: truncated while reading {what} at byte {self.pos}")
        b = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return b

    def scalar(self, fmt, what):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what):
        n = self.scalar("<Q", what + " length")
        return self.take(n, what).decode("utf-8", errors="surrogateescape")

    def value(self, vtype, depth=0):
        if vtype == STRING:
            return self.string("string value")
        if vtype == ARRAY:
            if depth > 8:
                raise GgufError(f"{self.name}: arrays nested too deeply")
            etype = self.scalar("<I", "array type")
            n = self.scalar("<Q", "array length")
            if etype in _SCALAR_FMT and etype != BOOL:
                # Numeric arrays in one go: vocabularies hold hundreds of thousands of scores.
                fmt = _SCALAR_FMT[etype]
                size = struct.calcsize(fmt)
                raw = self.take(n * size, "array data")
                return np.frombuffer(raw, dtype=np.dtype(fmt)).tolist()
            return [self.value(etype, depth + 1) for _ in range(n)]
        if vtype not in _SCALAR_FMT:
            raise GgufError(f"{self.name}: unknown value type {vtype}")
        return self.scalar(_SCALAR_FMT[vtype], "value")


class TensorInfo:
    def __init__(self, name, ggml_type, ne, offset):
        self.name = name
        self.type = ggml_type
        self.ne = ne  # ggml order: ne[0] is the row length
        self.offset = offset  # relative to the data section
        tname, block, bsize = GGML_TYPES[ggml_type]
        self.type_name = tname
        n = int(np.prod(ne))
        if ne[0] % block:
            raise GgufError(f"tensor {name}: row length {ne[0]} not a multiple of {block}")
        self.n_elements = n
        self.nbytes = n // block * bsize

    def __repr__(self):
        return f"{self.name} {self.type_name} {self.ne}"


class GgufFile:
    def __init__(self, path):
        self.path = path
        self.buf = np.memmap(path, dtype=np.uint8, mode="r")
        c = _Cursor(self.buf, path)
        if len(self.buf) < 4 or c.scalar("<I", "magic") != GGUF_MAGIC:
            raise GgufError(f"{path}: not a GGUF file")
        self.version = c.scalar("<I", "version")
        if self.version not in (2, 3):
            raise GgufError(f"{path}: unsupported GGUF version {self.version}")
        n_tensors = c.scalar("<Q", "tensor count")
        n_kv = c.scalar("<Q", "metadata count")
        self.metadata = {}
        self.value_types = {}
        for _ in range(n_kv):
            key = c.string("key")
            vtype = c.scalar("<I", "value type")
            self.metadata[key] = c.value(vtype)
            self.value_types[key] = vtype
        self.alignment = int(self.metadata.get("general.alignment", 32))
        self.tensors = {}
        for _ in range(n_tensors):
            name = c.string("tensor name")
            n_dims = c.scalar("<I", "dims")
            ne = [c.scalar("<Q", "dim") for _ in range(n_dims)]
            ttype = c.scalar("<I", "tensor type")
            if ttype not in GGML_TYPES:
                raise GgufError(f"{path}: tensor {name} has unsupported type {ttype}")
            offset = c.scalar("<Q", "tensor offset")
            if offset % self.alignment:
                raise GgufError(f"{path}: tensor {name} offset {offset} not aligned")
            self.tensors[name] = TensorInfo(name, ttype, ne, offset)
        a = self.alignment
        self.data_offset = (c.pos + a - 1) // a * a
        for t in self.tensors.values():
            if self.data_offset + t.offset + t.nbytes > len(self.buf):
                raise GgufError(f"{path}: tensor {t.name} runs past the end of the file")

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def raw(self, name):
        """The tensor's bytes as a uint8 array (a view of the file)."""
        t = self.tensors[name]
        start = self.data_offset + t.offset
        return self.buf[start:start + t.nbytes]

    def dequantize(self, name):
        """The tensor as float32, shaped [ne[n-1], ..., ne[0]] (rows of ne[0] elements)."""
        t = self.tensors[name]
        flat = dequantize(t.type, self.raw(name), t.n_elements)
        return flat.reshape(list(reversed(t.ne)))


# ---- Dequantizers. Each takes the raw bytes and returns float32 values in file order. ----
# Arithmetic is float32 in the order ggml's dequantize_row_* uses, so results can be
# compared exactly with other implementations.

def _f16(b):
    """Little-endian fp16 fields (uint8 [..., 2]) -> float32 [..., 1]."""
    return np.ascontiguousarray(b).view("<f2").astype(np.float32)


def _blocks(raw, bsize):
    raw = np.asarray(raw, dtype=np.uint8)
    if raw.size % bsize:
        raise GgufError(f"data of {raw.size} bytes is not a whole number of {bsize}-byte blocks")
    return raw.reshape(-1, bsize)


def deq_f32(raw):
    return np.ascontiguousarray(raw).view("<f4").astype(np.float32)


def deq_f16(raw):
    return np.ascontiguousarray(raw).view("<f2").astype(np.float32)


def deq_bf16(raw):
    # bf16 is the top half of a float32.
    return (np.ascontiguousarray(raw).view("<u2").astype(np.uint32) << 16).view(np.float32)


def deq_q4_0(raw):
    b = _blocks(raw, 18)
    d = _f16(b[:, 0:2])
    qs = b[:, 2:18]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int32) - 8
    return (q.astype(np.float32) * d).reshape(-1)


def deq_q4_1(raw):
    b = _blocks(raw, 20)
    d, m = _f16(b[:, 0:2]), _f16(b[:, 2:4])
    qs = b[:, 4:20]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float32)
    return (q * d + m).reshape(-1)


def _q5_high_bits(qh_bytes):
    """Bit j of the little-endian 32-bit qh is the fifth bit of element j."""
    qh = np.ascontiguousarray(qh_bytes).view("<u4").astype(np.uint32)  # [nb, 1]
    return ((qh >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32)  # [nb, 32]


def deq_q5_0(raw):
    b = _blocks(raw, 22)
    d = _f16(b[:, 0:2])
    hi = _q5_high_bits(b[:, 2:6])
    qs = b[:, 6:22]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int32) | (hi << 4)
    return ((q - 16).astype(np.float32) * d).reshape(-1)


def deq_q5_1(raw):
    b = _blocks(raw, 24)
    d, m = _f16(b[:, 0:2]), _f16(b[:, 2:4])
    hi = _q5_high_bits(b[:, 4:8])
    qs = b[:, 8:24]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int32) | (hi << 4)
    return (q.astype(np.float32) * d + m).reshape(-1)


def deq_q8_0(raw):
    b = _blocks(raw, 34)
    d = _f16(b[:, 0:2])
    q = b[:, 2:34].view(np.int8).astype(np.float32)
    return (q * d).reshape(-1)


def deq_q2_k(raw):
    # scales[16] (low nibble: scale, high nibble: min), qs[64], d, dmin.
    b = _blocks(raw, 84)
    nb = b.shape[0]
    sc = b[:, 0:16].reshape(nb, 2, 4, 2)  # [half of 128, shift step, 16-group]
    qs = b[:, 16:80].reshape(nb, 2, 1, 32)
    d = _f16(b[:, 80:82]).reshape(nb, 1, 1, 1)
    dmin = _f16(b[:, 82:84]).reshape(nb, 1, 1, 1)
    shifts = (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)
    q = ((qs >> shifts) & 3).reshape(nb, 2, 4, 2, 16).astype(np.float32)
    dl = (d * (sc & 0xF).astype(np.float32))[..., None]
    ml = (dmin * (sc >> 4).astype(np.float32))[..., None]
    return (dl * q - ml).reshape(-1)


def _q3_k_scales(s):
    """12 bytes -> 16 signed 6-bit scales: low 4 bits from bytes 0..7 (low then high
    nibbles), high 2 bits from bytes 8..11 (two bits per scale, four scales per byte)."""
    i = np.arange(16)
    low = (s[:, i % 8] >> (4 * (i // 8)).astype(np.uint8)) & 0xF
    high = (s[:, 8 + i % 4] >> (2 * (i // 4)).astype(np.uint8)) & 3
    return (low | (high << 4)).astype(np.int32) - 32


def deq_q3_k(raw):
    # hmask[32], qs[64], scales[12], d.
    b = _blocks(raw, 110)
    nb = b.shape[0]
    hmask = b[:, 0:32].reshape(nb, 1, 1, 32)
    qs = b[:, 32:96].reshape(nb, 2, 1, 32)
    sc = _q3_k_scales(b[:, 96:108]).reshape(nb, 2, 4, 2).astype(np.float32)
    d = _f16(b[:, 108:110]).reshape(nb, 1, 1, 1)
    shifts = (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)
    q = ((qs >> shifts) & 3).astype(np.int32)
    # The high-mask bit for the 8 (128-half, shift) steps runs over bits 0..7; set = no -4.
    bit = np.arange(8, dtype=np.uint8).reshape(1, 2, 4, 1)
    h = ((hmask >> bit) & 1).astype(np.int32)
    q = (q - 4 * (1 - h)).reshape(nb, 2, 4, 2, 16).astype(np.float32)
    dl = (d * sc)[..., None]
    return (dl * q).reshape(-1)


def _k4_scale_min(s):
    """12 bytes -> 8 six-bit scales and 8 six-bit mins (Q4_K/Q5_K packing)."""
    s = s.astype(np.int32)
    sc = np.empty((s.shape[0], 8), dtype=np.int32)
    mn = np.empty((s.shape[0], 8), dtype=np.int32)
    sc[:, 0:4] = s[:, 0:4] & 63
    mn[:, 0:4] = s[:, 4:8] & 63
    sc[:, 4:8] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:8] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc.astype(np.float32), mn.astype(np.float32)


def deq_q4_k(raw):
    # d, dmin, scales[12], qs[128]: four 64-element chunks, low nibbles then high nibbles.
    b = _blocks(raw, 144)
    nb = b.shape[0]
    d = _f16(b[:, 0:2]).reshape(nb, 1, 1)
    dmin = _f16(b[:, 2:4]).reshape(nb, 1, 1)
    sc, mn = _k4_scale_min(b[:, 4:16])
    qs = b[:, 16:144].reshape(nb, 4, 32)
    q = np.stack([qs & 0xF, qs >> 4], axis=2).astype(np.float32)  # [nb, 4, 2, 32]
    dl = (d * sc.reshape(nb, 4, 2))[..., None]
    ml = (dmin * mn.reshape(nb, 4, 2))[..., None]
    return (dl * q - ml).reshape(-1)


def deq_q5_k(raw):
    # d, dmin, scales[12], qh[32], qs[128]; the fifth bit of chunk k's low/high nibbles is
    # bit 2k / 2k+1 of qh[l].
    b = _blocks(raw, 176)
    nb = b.shape[0]
    d = _f16(b[:, 0:2]).reshape(nb, 1, 1)
    dmin = _f16(b[:, 2:4]).reshape(nb, 1, 1)
    sc, mn = _k4_scale_min(b[:, 4:16])
    qh = b[:, 16:48].reshape(nb, 1, 1, 32)
    qs = b[:, 48:176].reshape(nb, 4, 32)
    low = np.stack([qs & 0xF, qs >> 4], axis=2).astype(np.int32)  # [nb, 4, 2, 32]
    bit = np.arange(8, dtype=np.uint8).reshape(1, 4, 2, 1)
    high = ((qh >> bit) & 1).astype(np.int32)
    q = (low + 16 * high).astype(np.float32)
    dl = (d * sc.reshape(nb, 4, 2))[..., None]
    ml = (dmin * mn.reshape(nb, 4, 2))[..., None]
    return (dl * q - ml).reshape(-1)


def deq_q6_k(raw):
    # ql[128], qh[64], scales[16] (int8), d. Each 128-element half takes 64 ql bytes, 32 qh
    # bytes and 8 scales; its four 32-element groups are ql[0:32] low, ql[32:64] low,
    # ql[0:32] high, ql[32:64] high, topped up by qh bit pairs 0-1, 2-3, 4-5, 6-7.
    b = _blocks(raw, 210)
    nb = b.shape[0]
    ql = b[:, 0:128].reshape(nb, 2, 64)
    qh = b[:, 128:192].reshape(nb, 2, 32)
    sc = b[:, 192:208].view(np.int8).reshape(nb, 2, 4, 2).astype(np.float32)
    d = _f16(b[:, 208:210]).reshape(nb, 1, 1, 1)
    qa, qb = ql[:, :, 0:32], ql[:, :, 32:64]
    low = np.stack([qa & 0xF, qb & 0xF, qa >> 4, qb >> 4], axis=2).astype(np.int32)
    high = np.stack([(qh >> s) & 3 for s in (0, 2, 4, 6)], axis=2).astype(np.int32)
    q = ((low | (high << 4)) - 32).reshape(nb, 2, 4, 2, 16).astype(np.float32)
    return ((d * sc)[..., None] * q).reshape(-1)


DEQUANTIZERS = {
    0: deq_f32, 1: deq_f16, 30: deq_bf16,
    2: deq_q4_0, 3: deq_q4_1, 6: deq_q5_0, 7: deq_q5_1, 8: deq_q8_0,
    10: deq_q2_k, 11: deq_q3_k, 12: deq_q4_k, 13: deq_q5_k, 14: deq_q6_k,
}


def dequantize(ggml_type, raw, n_elements=None):
    if ggml_type not in DEQUANTIZERS:
        raise GgufError(f"no dequantizer for ggml type {ggml_type}")
    out = DEQUANTIZERS[ggml_type](raw)
    if n_elements is not None and out.size != n_elements:
        raise GgufError(f"dequantized {out.size} values, expected {n_elements}")
    return out


def _short(v):
    if isinstance(v, list):
        head = ", ".join(repr(x) for x in v[:4])
        return f"[{head}{', ...' if len(v) > 4 else ''}] ({len(v)} items)"
    return repr(v)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    f = GgufFile(argv[1])
    print(f"GGUF v{f.version}, alignment {f.alignment}, data at {f.data_offset}")
    for k, v in f.metadata.items():
        print(f"  {k} = {_short(v)}")
    for t in f.tensors.values():
        print(f"  tensor {t.name}: {t.type_name} {t.ne} @ {t.offset}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
