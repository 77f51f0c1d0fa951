#!/usr/bin/python3
"""Self-test of gguf_reader.py's vectorized dequantizers.

Two kinds of checks, needing nothing but numpy:
  * hand-computed blocks: bytes written out by hand with the value each element must have;
  * random blocks (any bit pattern is a valid block) against plain per-element loops that
    transcribe ggml's dequantize_row_* one statement at a time, so an indexing mistake in
    the reshaped numpy code shows up as a mismatch.

    /usr/bin/python3 test_dequant.py
"""

import os
import struct
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_reader as g  # noqa: E402


def f16(x):
    return struct.pack("<e", x)


def h2f(b, off):
    return np.float32(struct.unpack("<e", bytes(b[off:off + 2]))[0])


# ---- Per-element transcriptions of ggml's loops (float32 arithmetic, same order). ----

def loop_q4_0(b):
    d = h2f(b, 0)
    y = np.zeros(32, np.float32)
    for j in range(16):
        y[j] = np.float32((b[2 + j] & 0xF) - 8) * d
        y[j + 16] = np.float32((b[2 + j] >> 4) - 8) * d
    return y


def loop_q4_1(b):
    d, m = h2f(b, 0), h2f(b, 2)
    y = np.zeros(32, np.float32)
    for j in range(16):
        y[j] = np.float32(b[4 + j] & 0xF) * d + m
        y[j + 16] = np.float32(b[4 + j] >> 4) * d + m
    return y


def loop_q5_0(b):
    d = h2f(b, 0)
    qh = struct.unpack("<I", bytes(b[2:6]))[0]
    y = np.zeros(32, np.float32)
    for j in range(16):
        xh0 = ((qh >> j) << 4) & 0x10
        xh1 = (qh >> (j + 12)) & 0x10
        y[j] = np.float32(((b[6 + j] & 0xF) | xh0) - 16) * d
        y[j + 16] = np.float32(((b[6 + j] >> 4) | xh1) - 16) * d
    return y


def loop_q5_1(b):
    d, m = h2f(b, 0), h2f(b, 2)
    qh = struct.unpack("<I", bytes(b[4:8]))[0]
    y = np.zeros(32, np.float32)
    for j in range(16):
        xh0 = ((qh >> j) << 4) & 0x10
        xh1 = (qh >> (j + 12)) & 0x10
        y[j] = np.float32((b[8 + j] & 0xF) | xh0) * d + m
        y[j + 16] = np.float32((b[8 + j] >> 4) | xh1) * d + m
    return y


def loop_q8_0(b):
    d = h2f(b, 0)
    return np.array([np.float32(np.int8(b[2 + j])) * d for j in range(32)], np.float32)


def loop_q2_k(b):
    scales, qs = b[0:16], b[16:80]
    d, dmin = h2f(b, 80), h2f(b, 82)
    y = []
    is_ = 0
    q = 0
    for _n in range(2):
        shift = 0
        for _j in range(4):
            for half in range(2):
                sc = scales[is_]
                is_ += 1
                dl, ml = d * np.float32(sc & 0xF), dmin * np.float32(sc >> 4)
                for l in range(16):
                    y.append(dl * np.float32((qs[q + l + 16 * half] >> shift) & 3) - ml)
            shift += 2
        q += 32
    return np.array(y, np.float32)


def loop_q3_k(b):
    hm, qs, raw_sc = b[0:32], b[32:96], bytes(b[96:108])
    d_all = h2f(b, 108)
    aux = list(struct.unpack("<3I", raw_sc)) + [0]
    kmask1, kmask2 = 0x03030303, 0x0F0F0F0F
    tmp = aux[2]
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4)
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4)
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4)
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4)
    scales = np.frombuffer(struct.pack("<4I", *aux), dtype=np.int8)
    y = []
    is_, q, m = 0, 0, 1
    for _n in range(2):
        shift = 0
        for _j in range(4):
            for half in range(2):
                dl = d_all * np.float32(int(scales[is_]) - 32)
                is_ += 1
                for l in range(16):
                    k = l + 16 * half
                    v = ((qs[q + k] >> shift) & 3) - (0 if hm[k] & m else 4)
                    y.append(dl * np.float32(v))
            shift += 2
            m <<= 1
        q += 32
    return np.array(y, np.float32)


def get_scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def loop_q4_k(b):
    d, dmin = h2f(b, 0), h2f(b, 2)
    scales, qs = b[4:16], b[16:144]
    y = []
    is_, q = 0, 0
    for _j in range(4):
        sc, m = get_scale_min_k4(is_, scales)
        d1, m1 = d * np.float32(sc), dmin * np.float32(m)
        sc, m = get_scale_min_k4(is_ + 1, scales)
        d2, m2 = d * np.float32(sc), dmin * np.float32(m)
        for l in range(32):
            y.append(d1 * np.float32(qs[q + l] & 0xF) - m1)
        for l in range(32):
            y.append(d2 * np.float32(qs[q + l] >> 4) - m2)
        q += 32
        is_ += 2
    return np.array(y, np.float32)


def loop_q5_k(b):
    d, dmin = h2f(b, 0), h2f(b, 2)
    scales, qh, ql = b[4:16], b[16:48], b[48:176]
    y = []
    is_, q, u1, u2 = 0, 0, 1, 2
    for _j in range(4):
        sc, m = get_scale_min_k4(is_, scales)
        d1, m1 = d * np.float32(sc), dmin * np.float32(m)
        sc, m = get_scale_min_k4(is_ + 1, scales)
        d2, m2 = d * np.float32(sc), dmin * np.float32(m)
        for l in range(32):
            y.append(d1 * np.float32((ql[q + l] & 0xF) + (16 if qh[l] & u1 else 0)) - m1)
        for l in range(32):
            y.append(d2 * np.float32((ql[q + l] >> 4) + (16 if qh[l] & u2 else 0)) - m2)
        q += 32
        is_ += 2
        u1 <<= 2
        u2 <<= 2
    return np.array(y, np.float32)


def loop_q6_k(b):
    d = h2f(b, 208)
    y = np.zeros(256, np.float32)
    for n in range(2):
        ql = b[64 * n:64 * n + 64]
        qh = b[128 + 32 * n:128 + 32 * n + 32]
        sc = np.frombuffer(bytes(b[192 + 8 * n:192 + 8 * n + 8]), dtype=np.int8)
        for l in range(32):
            is_ = l // 16
            q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32
            q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32
            q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
            q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
            y[128 * n + l] = d * np.float32(sc[is_ + 0]) * np.float32(q1)
            y[128 * n + l + 32] = d * np.float32(sc[is_ + 2]) * np.float32(q2)
            y[128 * n + l + 64] = d * np.float32(sc[is_ + 4]) * np.float32(q3)
            y[128 * n + l + 96] = d * np.float32(sc[is_ + 6]) * np.float32(q4)
    return y


# (type name, block bytes, offsets of fp16 fields, loop version)
CASES = [
    ("Q4_0", 18, [0], loop_q4_0),
    ("Q4_1", 20, [0, 2], loop_q4_1),
    ("Q5_0", 22, [0], loop_q5_0),
    ("Q5_1", 24, [0, 2], loop_q5_1),
    ("Q8_0", 34, [0], loop_q8_0),
    ("Q2_K", 84, [80, 82], loop_q2_k),
    ("Q3_K", 110, [108], loop_q3_k),
    ("Q4_K", 144, [0, 2], loop_q4_k),
    ("Q5_K", 176, [0, 2], loop_q5_k),
    ("Q6_K", 210, [208], loop_q6_k),
]


def random_blocks(rng, bsize, f16_offsets, n):
    raw = rng.integers(0, 256, size=(n, bsize), dtype=np.uint8)
    # Keep the fp16 scales finite and moderate; every other bit pattern is a valid block.
    for off in f16_offsets:
        vals = rng.uniform(-2, 2, size=n).astype("<f2")
        raw[:, off:off + 2] = vals.view(np.uint8).reshape(n, 2)
    return raw


class RandomBlocks(unittest.TestCase):
    def test_against_loops(self):
        rng = np.random.default_rng(1234)
        for name, bsize, offs, loop in CASES:
            with self.subTest(type=name):
                raw = random_blocks(rng, bsize, offs, 6)
                got = g.dequantize(g.TYPE_BY_NAME[name], raw.reshape(-1))
                want = np.concatenate([loop(list(map(int, blk))) for blk in raw])
                np.testing.assert_array_equal(got, want)


class HandComputedBlocks(unittest.TestCase):
    def test_q4_0(self):
        # d = 0.5; byte j holds low nibble j%16 and high nibble 15 - j%16.
        qs = bytes((j & 0xF) | ((15 - j) << 4) for j in range(16))
        y = g.dequantize(g.TYPE_BY_NAME["Q4_0"], np.frombuffer(f16(0.5) + qs, np.uint8))
        want = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
        np.testing.assert_array_equal(y, np.array(want, np.float32))

    def test_q4_1(self):
        qs = bytes([0x21] * 16)  # low nibble 1, high nibble 2
        y = g.dequantize(g.TYPE_BY_NAME["Q4_1"], np.frombuffer(f16(2.0) + f16(-1.0) + qs, np.uint8))
        np.testing.assert_array_equal(y, np.array([1.0] * 16 + [3.0] * 16, np.float32))

    def test_q5_0(self):
        # qh bit 0 and bit 16 set: elements 0 and 16 get +16 before the -16 offset.
        qh = struct.pack("<I", (1 << 0) | (1 << 16))
        qs = bytes([0x00] * 16)
        y = g.dequantize(g.TYPE_BY_NAME["Q5_0"], np.frombuffer(f16(1.0) + qh + qs, np.uint8))
        want = np.full(32, -16.0, np.float32)
        want[0] = want[16] = 0.0
        np.testing.assert_array_equal(y, want)

    def test_q5_1(self):
        qh = struct.pack("<I", 1 << 31)  # element 31
        qs = bytes([0xF3] * 16)
        y = g.dequantize(g.TYPE_BY_NAME["Q5_1"], np.frombuffer(f16(1.0) + f16(0.5) + qh + qs, np.uint8))
        want = np.array([3.5] * 16 + [15.5] * 15 + [31.5], np.float32)
        np.testing.assert_array_equal(y, want)

    def test_q8_0(self):
        qs = np.arange(-16, 16, dtype=np.int8).tobytes()
        y = g.dequantize(g.TYPE_BY_NAME["Q8_0"], np.frombuffer(f16(0.25) + qs, np.uint8))
        np.testing.assert_array_equal(y, np.arange(-16, 16, dtype=np.float32) * 0.25)

    def test_q2_k(self):
        # Scale nibble s and min nibble m per 16-group: group k has scale k%16, min 1.
        scales = bytes((k & 0xF) | (1 << 4) for k in range(16))
        qs = bytes([0b11100100] * 64)  # 2-bit fields 0,1,2,3 for shifts 0,2,4,6
        blk = scales + qs + f16(1.0) + f16(0.5)
        y = g.dequantize(g.TYPE_BY_NAME["Q2_K"], np.frombuffer(blk, np.uint8))
        # Group k (16 values) uses shift 2*((k//2)%4), so q = (k//2)%4.
        want = [k * ((k // 2) % 4) - 0.5 for k in range(16) for _ in range(16)]
        np.testing.assert_array_equal(y, np.array(want, np.float32))

    def test_q3_k(self):
        # All scales 33 (stored 6-bit value; minus 32 gives 1): low nibble 1, high bits 2.
        sc = bytes([0x11] * 8 + [0b10101010] * 4)
        hmask = bytes([0xFF] * 32)  # high bit set everywhere: no -4
        qs = bytes([0b11100100] * 64)
        blk = hmask + qs + sc + f16(2.0)
        y = g.dequantize(g.TYPE_BY_NAME["Q3_K"], np.frombuffer(blk, np.uint8))
        want = [2.0 * ((k // 2) % 4) for k in range(16) for _ in range(16)]
        np.testing.assert_array_equal(y, np.array(want, np.float32))
        # Clearing the high-mask bytes subtracts 4 from every value.
        y0 = g.dequantize(g.TYPE_BY_NAME["Q3_K"], np.frombuffer(bytes(32) + qs + sc + f16(2.0), np.uint8))
        np.testing.assert_array_equal(y0, np.array(want, np.float32) - 8.0)

    def test_q4_k(self):
        # Sub-block j (32 values): scale j+1, min j (both < 16, so no high bits).
        sc = bytes([1, 2, 3, 4]) + bytes([0, 1, 2, 3]) + bytes([(5 + k) | ((4 + k) << 4) for k in range(4)])
        qs = bytes([0x52] * 128)  # low nibble 2, high nibble 5
        blk = f16(1.0) + f16(1.0) + sc + qs
        y = g.dequantize(g.TYPE_BY_NAME["Q4_K"], np.frombuffer(blk, np.uint8))
        want = []
        for j in range(8):
            q = 2 if j % 2 == 0 else 5
            want += [(j + 1) * q - j] * 32
        np.testing.assert_array_equal(y, np.array(want, np.float32))

    def test_q6_k(self):
        ql = bytes([0x00] * 128)
        qh = bytes([0xFF] * 64)  # all high bits: q = 48 - 32 = 16
        scales = np.arange(1, 17, dtype=np.int8).tobytes()
        blk = ql + qh + scales + f16(0.5)
        y = g.dequantize(g.TYPE_BY_NAME["Q6_K"], np.frombuffer(blk, np.uint8))
        # Element e: half n = e//128, group = (e%128)//32, l = e%32, scale index 8n + 2*group + l//16.
        want = [0.5 * (8 * (e // 128) + 2 * ((e % 128) // 32) + (e % 32) // 16 + 1) * 16 for e in range(256)]
        np.testing.assert_array_equal(y, np.array(want, np.float32))

    def test_float_types(self):
        vals = np.array([1.0, -2.5, 0.0, 1024.0], np.float32)  # exact in f16 and bf16
        np.testing.assert_array_equal(g.dequantize(0, vals.view(np.uint8)), vals)
        np.testing.assert_array_equal(g.dequantize(1, vals.astype("<f2").view(np.uint8)), vals)
        bf = (vals.view(np.uint32) >> 16).astype("<u2")
        np.testing.assert_array_equal(g.dequantize(30, bf.view(np.uint8)), vals)


if __name__ == "__main__":
    unittest.main()
