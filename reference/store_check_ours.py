#!/usr/bin/python3
"""Checks that NumPy reads what spacetime-lens writes (developer-run, not CI).

1. Writes a safetensors file in every dtype with our writer (through node + tsx), then parses it here with json +
   np.frombuffer and compares each tensor with the same values made by NumPy (f16 rounded by NumPy itself, bf16 by
   PyTorch), and checks the header padding and 8-byte alignment.
2. With --store DIR: reads every layer file of an activation store with the five-line snippet of docs/store.md and
   checks shapes against manifest.json.

Run from the repository root: /usr/bin/python3 reference/store_check_ours.py [--store DIR]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1',
          'U8': 'u1', 'BOOL': '?'}

WRITE_JS = r"""
import { writeSafetensors, writeNpy, f32ToF16, f32ToBf16 } from './src/formats/index.ts';
const n = 37;
const f = Float32Array.from({ length: n }, (_, i) => Math.fround((i - 18) * 0.37 + 1e-3 * i * i));
const d = Float64Array.from({ length: n }, (_, i) => (i - 18) * 0.37 + 1e-3 * i * i);
await writeSafetensors(process.argv[1], [
  { name: 'f64', dtype: 'F64', shape: [n], data: d },
  { name: 'f32', dtype: 'F32', shape: [1, n], data: f },
  { name: 'f16', dtype: 'F16', shape: [n], data: f32ToF16(f) },
  { name: 'bf16', dtype: 'BF16', shape: [n], data: f32ToBf16(f) },
  { name: 'i64', dtype: 'I64', shape: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i - 18) * 1000000007n) },
  { name: 'i32', dtype: 'I32', shape: [n], data: Int32Array.from({ length: n }, (_, i) => (i - 18) * 65537) },
  { name: 'i16', dtype: 'I16', shape: [n], data: Int16Array.from({ length: n }, (_, i) => (i - 18) * 999) },
  { name: 'i8', dtype: 'I8', shape: [n], data: Int8Array.from({ length: n }, (_, i) => i - 18) },
  { name: 'u8', dtype: 'U8', shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i * 7) },
  { name: 'bool', dtype: 'BOOL', shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 3 === 0 ? 1 : 0) },
], { writer: 'spacetime-lens' });
await writeNpy(process.argv[1] + '.npy', [n, 1], f);
await writeNpy(process.argv[1] + '.f8.npy', [n], d);
"""


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    assert (8 + n) % 8 == 0, 'data section not 8-byte aligned'
    header_text = raw[8:8 + n].decode()
    assert header_text.rstrip(' ').endswith('}'), 'header padded with anything but spaces'
    header = json.loads(header_text)
    out = {}
    for name, t in header.items():
        if name == '__metadata__':
            continue
        b, e = t['data_offsets']
        buf = raw[8 + n + b:8 + n + e]
        if t['dtype'] == 'BF16':
            arr = torch.frombuffer(bytearray(buf), dtype=torch.bfloat16).to(torch.float64).numpy()
        else:
            arr = np.frombuffer(buf, dtype=DTYPES[t['dtype']])
        out[name] = arr.reshape(t['shape'])
    return header.get('__metadata__', {}), out


def check_formats():
    n = 37
    i = np.arange(n)
    d = (i - 18) * 0.37 + 1e-3 * i * i
    f = d.astype(np.float32)
    want = {
        'f64': d, 'f32': f.reshape(1, n), 'f16': f.astype(np.float16),
        'bf16': torch.from_numpy(f).to(torch.bfloat16).to(torch.float64).numpy(),
        'i64': (i - 18).astype(np.int64) * 1000000007, 'i32': ((i - 18) * 65537).astype(np.int32),
        'i16': ((i - 18) * 999).astype(np.int16), 'i8': (i - 18).astype(np.int8), 'u8': (i * 7).astype(np.uint8),
        'bool': i % 3 == 0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'ours.safetensors')
        subprocess.run(['node', '--import', 'tsx', '--input-type=module', '-e', WRITE_JS, path], check=True)
        metadata, tensors = read_safetensors(path)
        npy_f4 = np.load(path + '.npy')
        npy_f8 = np.load(path + '.f8.npy')
    assert npy_f4.dtype == np.float32 and np.array_equal(npy_f4, f.reshape(n, 1)), npy_f4
    assert npy_f8.dtype == np.float64 and np.array_equal(npy_f8, d), npy_f8
    print('.npy written by spacetime-lens loads in np.load')
    assert metadata == {'writer': 'spacetime-lens'}, metadata
    for name, w in want.items():
        got = tensors[name]
        assert got.shape == w.shape, (name, got.shape, w.shape)
        assert np.array_equal(got, w), (name, got, w)
    print('safetensors written by spacetime-lens match NumPy/PyTorch in', len(want), 'dtypes')


def check_store(store):
    manifest = json.load(open(os.path.join(store, 'manifest.json')))
    for hook, file in manifest['files'].items():
        # --- the docs/store.md snippet ---
        raw = open(os.path.join(store, file), 'rb').read()
        n = int.from_bytes(raw[:8], 'little')
        info = json.loads(raw[8:8 + n])[hook]
        begin, end = info['data_offsets']
        x = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype={'F32': '<f4', 'F16': '<f2'}[info['dtype']]).reshape(info['shape'])
        # ---
        assert x.shape == (manifest['n'], manifest['d']), (hook, x.shape)
        assert np.isfinite(x).all(), hook
        print(hook, x.dtype, x.shape, 'mean %.6g' % x.astype(np.float64).mean())
    entities = [json.loads(line) for line in open(os.path.join(store, 'entities.jsonl'))]
    assert len(entities) == manifest['n']
    print('store', store, 'reads with the docs snippet:', len(manifest['files']), 'layer files,', len(entities), 'rows')


if __name__ == '__main__':
    check_formats()
    if '--store' in sys.argv:
        check_store(sys.argv[sys.argv.index('--store') + 1])
