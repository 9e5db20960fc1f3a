#!/usr/bin/python3
"""Writes the formats goldens in test/fixtures/formats/ from NumPy and PyTorch (developer-run, not CI).

- golden.safetensors + golden.json: a safetensors file in every dtype, written by a tiny pure-NumPy writer that
  follows the format spec (the `safetensors` Python package is not installed here), and the values NumPy reads.
- halfcases_f32.bin, halfcases_f16_numpy.bin, halfcases_bf16_torch.bin: hard f32 inputs (ties, subnormals,
  overflow edges, NaN, random bit patterns) and their f16 bits by NumPy and bf16 bits by PyTorch.
- golden_*.npy: .npy files in v1/v2/v3 headers, f2/f4/f8, C and Fortran order, and golden_npy.json.
- torch_*.pt + golden_torch.json: torch.save files (f32, per-channel and per-tensor quint8, a transposed f16 view,
  nested dicts with bf16 and int64, a Parameter, a ZIP64 repack) and the values PyTorch reads (dequantised); torch_evil.pt calls
  os.system when unpickled by Python and must be refused.
- test/fixtures/store/numpy_f16/: a small f16 activation store written by NumPy alone, and its expected values.

Run: /usr/bin/python3 reference/store_make_fixtures.py
"""
import json
import math
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'formats')


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype string, shape, raw bytes). Header padded with spaces to 8 bytes."""
    header = {'__metadata__': metadata}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': list(shape), 'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for _, _, _, raw in tensors:
            f.write(raw)


def json_number(x):
    x = float(x)
    if math.isnan(x):
        return 'nan'
    if math.isinf(x):
        return 'inf' if x > 0 else '-inf'
    return x


def golden_safetensors():
    rng = np.random.default_rng(20231001)
    f16_values = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08, np.inf, -np.inf, np.nan],
                          dtype=np.float16)
    bf16 = torch.tensor([1.0, -3.140625, 1e30, -1e-30, 0.0, float('inf')], dtype=torch.bfloat16)
    arrays = [
        ('weights.f64', 'F64', rng.standard_normal((2, 3))),
        ('weights.f32', 'F32', rng.standard_normal((3, 4)).astype(np.float32)),
        ('weights.f16', 'F16', f16_values.reshape(2, 5)),
        ('scalar.f32', 'F32', np.array(3.25, dtype=np.float32)),
        ('empty.f32', 'F32', np.zeros((0, 3), dtype=np.float32)),
        ('ids.i64', 'I64', np.array([0, -1, 2**40 + 3, -(2**50)], dtype=np.int64)),
        ('ids.i32', 'I32', np.array([[7, -8], [2**31 - 1, -(2**31)]], dtype=np.int32)),
        ('ids.i16', 'I16', np.array([-32768, 32767, 5], dtype=np.int16)),
        ('ids.i8', 'I8', np.array([-128, 127, 0], dtype=np.int8)),
        ('bytes.u8', 'U8', np.array([0, 255, 17], dtype=np.uint8)),
        ('mask.bool', 'BOOL', np.array([[True, False], [False, True]])),
    ]
    tensors, expected = [], {}
    for name, dtype, arr in arrays:
        tensors.append((name, dtype, arr.shape, np.ascontiguousarray(arr).tobytes()))
        expected[name] = {'dtype': dtype, 'shape': list(arr.shape),
                          'values': [json_number(v) for v in arr.astype(np.float64).ravel()]}
    bf16_bits = bf16.view(torch.int16).numpy().astype('<i2')
    tensors.append(('weights.bf16', 'BF16', (2, 3), bf16_bits.tobytes()))
    expected['weights.bf16'] = {'dtype': 'BF16', 'shape': [2, 3],
                                'values': [json_number(v) for v in bf16.to(torch.float64).tolist()]}
    metadata = {'format': 'pt', 'writer': 'reference/store_make_fixtures.py'}
    write_safetensors(os.path.join(OUT, 'golden.safetensors'), tensors, metadata)
    with open(os.path.join(OUT, 'golden.json'), 'w') as f:
        json.dump({'metadata': metadata, 'tensors': expected}, f, indent=1)


def half_cases():
    rng = np.random.default_rng(7)
    halves = np.arange(0, 0x7c00, dtype=np.uint16)  # every finite non-negative half
    lo = halves[:-1].view(np.float16).astype(np.float64)
    hi = halves[1:].view(np.float16).astype(np.float64)
    mids = ((lo + hi) / 2).astype(np.float32)  # exact ties: halves have 11 significant bits
    pick = rng.choice(len(mids), 6000, replace=False)
    ties = mids[pick]
    near = np.concatenate([np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(0))])
    special = np.array([0.0, 65504.0, 65519.996, 65520.0, 65536.0, 1e38, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001,
                        2.0**-26, 2.0**-14, 2.0**-14 - 2.0**-25, 1.0, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, np.inf],
                       dtype=np.float32)
    random_bits = rng.integers(0, 2**32, 6000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    nans = np.array([0x7fc00000, 0x7f800001, 0x7fbfffff, 0x7f802000, 0xffc00001], dtype=np.uint32).view(np.float32)
    cases = np.concatenate([ties, near, special, random_bits, nans])
    cases = np.concatenate([cases, -cases]).astype('<f4')
    with np.errstate(over='ignore', invalid='ignore'):
        f16 = cases.astype(np.float16).view('<u2')
    bf16 = torch.from_numpy(cases.copy()).to(torch.bfloat16).view(torch.int16).numpy().view('<u2')
    cases.tofile(os.path.join(OUT, 'halfcases_f32.bin'))
    f16.tofile(os.path.join(OUT, 'halfcases_f16_numpy.bin'))
    bf16.tofile(os.path.join(OUT, 'halfcases_bf16_torch.bin'))


def write_npy(path, arr, version, fortran=False):
    """A .npy writer that can force any header version (np.save picks the lowest that fits)."""
    descr = np.lib.format.dtype_to_descr(arr.dtype)
    header = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, tuple(arr.shape))
    magic = b'\x93NUMPY' + bytes([version, 0])
    len_size = 2 if version == 1 else 4
    encoding = 'latin1' if version < 3 else 'utf8'
    total = len(magic) + len_size + len(header) + 1
    header += ' ' * (-total % 64) + '\n'
    with open(path, 'wb') as f:
        f.write(magic)
        f.write(struct.pack('<H' if version == 1 else '<I', len(header)))
        f.write(header.encode(encoding))
        f.write((np.asfortranarray(arr) if fortran else np.ascontiguousarray(arr)).tobytes(order='F' if fortran else 'C'))
    back = np.load(path)  # NumPy itself must read what we wrote
    assert back.shape == arr.shape and np.array_equal(back, arr, equal_nan=True), path


def golden_npy():
    rng = np.random.default_rng(11)
    base = rng.standard_normal((5, 3))
    files = {
        'golden_v1_f4.npy': (base.astype('<f4'), 1, False),
        'golden_v2_f8.npy': (base.astype('<f8'), 2, False),
        'golden_v3_f2.npy': (base.astype('<f2'), 3, False),
        'golden_v1_f4_fortran.npy': (base.astype('<f4'), 1, True),
        'golden_v1_f8_1d.npy': (base[:, 0].astype('<f8'), 1, False),
    }
    expected = {}
    for name, (arr, version, fortran) in files.items():
        write_npy(os.path.join(OUT, name), arr, version, fortran)
        expected[name] = {'shape': list(arr.shape), 'values': arr.astype(np.float64).ravel(order='C').tolist()}
    np.save(os.path.join(OUT, 'golden_npsave_f4.npy'), base.astype(np.float32))
    expected['golden_npsave_f4.npy'] = {'shape': [5, 3], 'values': base.astype(np.float32).astype(np.float64).ravel().tolist()}
    with open(os.path.join(OUT, 'golden_npy.json'), 'w') as f:
        json.dump(expected, f, indent=1)


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def golden_torch():
    """PyTorch .pt files as torch.save writes them, incl. the authors' per-channel quint8 activations (docs/method.md#activations)."""
    rng = np.random.default_rng(13)
    x = torch.from_numpy(rng.standard_normal((5, 3)).astype(np.float32) * 4)
    x16 = x.half().float()  # the authors cast to fp16, then fp32, then quantise per column
    mn, mx = x16.min(0).values, x16.max(0).values
    scale = ((mx - mn) / 255).double()
    zero = torch.round(-mn.double() / scale).long()
    files = {
        'torch_f32.pt': x,
        'torch_q8_channel.pt': torch.quantize_per_channel(x16, scale, zero, axis=1, dtype=torch.quint8),
        'torch_q8_tensor.pt': torch.quantize_per_tensor(x, 0.05, 7, torch.quint8),
        'torch_f16_transposed.pt': x.half().t(),
        'torch_dict.pt': {'layer': {'acts': x.bfloat16()}, 'ids': torch.tensor([3, -1, 2**40], dtype=torch.int64)},
        'torch_parameter.pt': torch.nn.Parameter(x.double()),
    }
    expected = {}
    for name, obj in files.items():
        torch.save(obj, os.path.join(OUT, name))
        flat = {'': obj} if isinstance(obj, torch.Tensor) else {'layer.acts': obj['layer']['acts'], 'ids': obj['ids']}
        expected[name] = {}
        for key, t in flat.items():
            t = t.detach()
            values = t.dequantize() if t.is_quantized else t
            expected[name][key] = {'shape': list(t.shape),
                                   'values': values.to(torch.float32).to(torch.float64).reshape(-1).tolist()}
    torch.save(_Evil(), os.path.join(OUT, 'torch_evil.pt'))
    # The same archive repacked with ZIP64 records (lowering zipfile's limit forces them), as huge files have.
    import zipfile
    src = zipfile.ZipFile(os.path.join(OUT, 'torch_f32.pt'))
    limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 8
    try:
        with zipfile.ZipFile(os.path.join(OUT, 'torch_zip64.pt'), 'w', zipfile.ZIP_STORED, allowZip64=True) as dst:
            for info in src.infolist():  # fixed timestamps keep the fixture reproducible
                entry = zipfile.ZipInfo(info.filename, date_time=(2023, 10, 1, 0, 0, 0))
                dst.writestr(entry, src.read(info.filename), zipfile.ZIP_STORED)
    finally:
        zipfile.ZIP64_LIMIT = limit
    expected['torch_zip64.pt'] = expected['torch_f32.pt']
    with open(os.path.join(OUT, 'golden_torch.json'), 'w') as f:
        json.dump(expected, f, indent=1)


def golden_store():
    """A small f16 activation store written by NumPy alone (test/fixtures/store/numpy_f16), per docs/store.md."""
    rng = np.random.default_rng(17)
    out = os.path.join(OUT, '..', 'store', 'numpy_f16')
    os.makedirs(out, exist_ok=True)
    n, d = 4, 5
    names = ['Paris', 'Lima', 'Oslo', 'Quito']
    targets = [[2.35, 48.86], [-77.04, -12.05], [10.75, 59.91], [-78.47, -0.18]]
    files, expected = {}, {}
    for layer in (0, 2):
        hook = 'blocks.%d.hook_resid_post' % layer
        x = (rng.standard_normal((n, d)) * 3).astype(np.float16)
        write_safetensors(os.path.join(out, hook + '.safetensors'), [(hook, 'F16', x.shape, x.tobytes())], {})
        files[hook] = hook + '.safetensors'
        expected[hook] = x.astype(np.float64).ravel().tolist()
    with open(os.path.join(out, 'entities.jsonl'), 'w') as f:
        for i, name in enumerate(names):
            f.write(json.dumps({'name': name, 'country': 'XX', 'is_test': i % 2 == 1, 'target': targets[i]}) + '\n')
    manifest = {
        'formatVersion': 1, 'model': {'id': 'numpy/handmade'},
        'dataset': {'name': 'four_places', 'sha256': '0' * 64, 'kind': 'space', 'targetNames': ['longitude', 'latitude']},
        'prompt': {'name': 'empty', 'text': ''}, 'hooks': ['hook_resid_post'], 'layers': [0, 2], 'dtype': 'f16',
        'n': n, 'd': d, 'aggregation': 'last', 'toolVersion': 'numpy', 'createdAt': '2026-11-29T00:00:00Z',
        'files': files,
    }
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(OUT, '..', 'store', 'numpy_f16_expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    golden_safetensors()
    half_cases()
    golden_npy()
    golden_torch()
    golden_store()
    print('wrote', sorted(os.listdir(OUT)))
