#!/usr/bin/python3
"""NumPy / PyTorch side of bench/store/bench.ts: same files, same operations, best of 3, JSON on stdout."""
import json
import os
import sys
import time

import numpy as np
import torch


def best(fn, reps=3):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def read_layer(path):
    """The docs/store.md snippet."""
    raw = open(path, 'rb').read()
    n = int.from_bytes(raw[:8], 'little')
    info = next(v for k, v in json.loads(raw[8:8 + n]).items() if k != '__metadata__')
    b, e = info['data_offsets']
    x = np.frombuffer(raw[8 + n + b:8 + n + e], dtype={'F32': '<f4', 'F16': '<f2'}[info['dtype']]).reshape(info['shape'])
    return x.astype(np.float32)  # the store hands out f32


def write_layer(path, x):
    header = json.dumps({'x': {'dtype': 'F32', 'shape': list(x.shape), 'data_offsets': [0, x.nbytes]}}).encode()
    header += b' ' * (-len(header) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(len(header).to_bytes(8, 'little'))
        f.write(header)
        f.write(x.tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(d):
    meta = json.load(open(os.path.join(d, 'meta.json')))
    x = np.fromfile(os.path.join(d, 'x.bin'), dtype='<f4')
    h = x.astype(np.float16)
    tx = torch.from_numpy(x)
    bf = tx.to(torch.bfloat16)
    pre = np.ones_like(x)
    pre_t = torch.from_numpy(pre)
    out = {
        'f32_to_f16': best(lambda: x.astype(np.float16)),
        'f16_to_f32': best(lambda: h.astype(np.float32)),
        'f32_to_bf16': best(lambda: tx.to(torch.bfloat16)),
        'bf16_to_f32': best(lambda: bf.to(torch.float32)),
        'f16_into_f32': best(lambda: np.copyto(pre, h)),
        'bf16_into_f32': best(lambda: pre_t.copy_(bf)),
        'read_f32': best(lambda: read_layer(os.path.join(d, 'layer_f32.safetensors'))),
        'read_f16': best(lambda: read_layer(os.path.join(d, 'layer_f16.safetensors'))),
        'write_f32': best(lambda: write_layer(os.path.join(d, 'py_out.safetensors'), x.reshape(meta['rows'], meta['cols']))),
    }
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])
