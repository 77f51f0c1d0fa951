#!/usr/bin/python3
"""A small, independent reader for Hugging Face model folders: config.json plus
safetensors (model.safetensors, or the shards named by model.safetensors.index.json).

Written from the safetensors format description (8-byte little-endian header length, JSON
header of dtype / shape / data_offsets, then the data) and mlx's affine quantization layout,
sharing no code with the C++ reader. Only json and numpy are used.

Dtypes: F32, F16, BF16 (the top half of a float32), U32 for MLX-quantized weights. An MLX
weight `X.weight` (uint32 [out, in*bits/32], element k of a word in bits [k*bits,
(k+1)*bits)) comes with `X.scales` and `X.biases` [out, in/group_size]; it dequantizes to
scales * q + biases, with group_size and bits from config.json's "quantization".

    /usr/bin/python3 hf_reader.py FOLDER     # prints config and tensors
"""

import json
import os
import struct
import sys

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "U32": np.uint32,
           "I32": np.int32, "F64": np.float64}


class HfError(Exception):
    pass


def _read_header(path):
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise HfError(f"{path}: shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", head)
        text = f.read(n)
        if len(text) != n:
            raise HfError(f"{path}: header length {n} runs past the end of the file")
    return json.loads(text), 8 + n


class HfFolder:
    def __init__(self, path):
        self.path = path
        cfg = os.path.join(path, "config.json")
        if not os.path.exists(cfg):
            raise HfError(f"{cfg}: missing")
        with open(cfg) as f:
            self.config = json.load(f)
        index = os.path.join(path, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        elif os.path.exists(os.path.join(path, "model.safetensors")):
            files = ["model.safetensors"]
        else:
            files = sorted(n for n in os.listdir(path) if n.endswith(".safetensors"))
        if not files:
            raise HfError(f"{path}: no .safetensors files")
        self.entries = {}  # name -> (file, dtype, shape, absolute byte offset, nbytes)
        for name in files:
            file = os.path.join(path, name)
            header, base = _read_header(file)
            for key, v in header.items():
                if key == "__metadata__":
                    continue
                b, e = v["data_offsets"]
                self.entries[key] = (file, v["dtype"], tuple(v["shape"]), base + b, e - b)
        q = self.config.get("quantization")
        self.group_size = q["group_size"] if q else None
        self.bits = q["bits"] if q else None

    def __contains__(self, name):
        return name in self.entries

    def raw(self, name):
        """The stored array: float32 for F32/F16/BF16, the integer type otherwise."""
        if name not in self.entries:
            raise HfError(f"{self.path}: no tensor {name}")
        file, dtype, shape, offset, nbytes = self.entries[name]
        if dtype not in _DTYPES:
            raise HfError(f"{file}: tensor {name} has unsupported dtype {dtype}")
        with open(file, "rb") as f:
            f.seek(offset)
            buf = f.read(nbytes)
        a = np.frombuffer(buf, dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<")).reshape(shape)
        if dtype == "BF16":
            return (a.astype(np.uint32) << 16).view(np.float32)
        if dtype in ("F16", "F32"):
            return a.astype(np.float32)
        return a

    def weight(self, name):
        """A tensor as float64, dequantized when it is an MLX-quantized weight."""
        base = name[:-len(".weight")] if name.endswith(".weight") else None
        if base is not None and base + ".scales" in self.entries:
            return dequantize_mlx(self.raw(name), self.raw(base + ".scales"),
                                  self.raw(base + ".biases"), self.group_size, self.bits)
        return self.raw(name).astype(np.float64)


def dequantize_mlx(wq, scales, biases, group_size, bits):
    """uint32 [out, in*bits/32] + scales/biases [out, in/group] -> float64 [out, in]."""
    if group_size is None or bits is None:
        raise HfError("quantized tensor but config.json has no \"quantization\"")
    per_word = 32 // bits
    shifts = (np.arange(per_word, dtype=np.uint32) * bits).astype(np.uint32)
    q = (wq[..., None] >> shifts) & np.uint32((1 << bits) - 1)  # [out, words, per_word]
    out = wq.shape[0]
    q = q.reshape(out, -1).astype(np.float64)
    n_groups = q.shape[1] // group_size
    if scales.shape != (out, n_groups) or biases.shape != (out, n_groups):
        raise HfError(f"scales {scales.shape} / biases {biases.shape} do not fit "
                      f"{out} rows of {q.shape[1]} elements in groups of {group_size}")
    q = q.reshape(out, n_groups, group_size)
    w = q * scales.astype(np.float64)[:, :, None] + biases.astype(np.float64)[:, :, None]
    return w.reshape(out, -1)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    f = HfFolder(argv[1])
    print(json.dumps(f.config, indent=1))
    for name, (file, dtype, shape, _, nbytes) in sorted(f.entries.items()):
        print(f"{name:50s} {dtype:5s} {str(list(shape)):16s} {nbytes:10d}  {os.path.basename(file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
