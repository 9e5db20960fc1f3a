#!/usr/bin/env python3
"""Goldens for src/sae (docs/sae.md), independent of our TypeScript.

1. Training steps: PyTorch autograd + torch.optim.Adam on the loss of docs/sae.md#training (TopK tied with AuxK on
   a fixed dead mask, TopK untied, ReLU+L1 tied with AuxK), decoder rows renormalised after each step.
   -> test/fixtures/sae/train_golden.{json,bin} (float64 blob + JSON index).
2. SAELens layout written by NumPy alone (safetensors header + raw little-endian bytes, cfg.json), for a TopK SAE
   (float32) and a JumpReLU SAE (float16, Gemma Scope style), with NumPy's encode/decode of a few rows.
   -> test/fixtures/sae/numpy_topk/, numpy_jumprelu/ and layout_golden.{json,bin}.

Run: /usr/bin/python3 reference/sae_golden.py
Golden-free reverse check (we write, NumPy reads): /usr/bin/python3 reference/sae_golden.py check DIR X.npy ACTS.npy
  loads a folder our `saveSae` wrote, checks the layout and field names, and recomputes the activations.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'sae')
DTYPES = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16', np.dtype('float64'): 'F64'}
NP_OF = {v: k for k, v in DTYPES.items()}


class Blob:
    def __init__(self):
        self.parts, self.index = [], {}

    def put(self, name, arr):
        arr = np.asarray(arr, dtype=np.float64)
        self.index[name] = {'offset': sum(a.size for a in self.parts), 'shape': list(arr.shape)}
        self.parts.append(arr.ravel())

    def write(self, name, meta):
        with open(os.path.join(OUT, f'{name}.bin'), 'wb') as f:
            f.write(np.concatenate(self.parts).astype('<f8').tobytes())
        with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
            json.dump({**meta, 'index': self.index}, f)


# ---- 1. training steps --------------------------------------------------------------------------------------------

def topk_mask(z, k):
    idx = torch.topk(z, k, dim=-1).indices
    return torch.zeros_like(z).scatter_(-1, idx, 1.0)


def sae_losses(p, x, arch, k, tie, dead, l1c, auxc):
    sae_in = x - p['b_dec'] * tie
    pre = sae_in @ p['W_enc'] + p['b_enc']
    acts = torch.relu(pre) * (topk_mask(pre.detach(), k) if arch == 'topk' else 1.0)
    recon = acts @ p['W_dec'] + p['b_dec']
    mse = (recon - x).pow(2).sum(-1).mean()
    l1 = acts.sum(-1).mean()
    loss = mse + (l1c * l1 if arch == 'standard' else 0.0)
    n_dead = int(dead.sum())
    if n_dead > 0 and auxc > 0:
        k_aux = min(x.shape[1] // 2, n_dead)
        masked = torch.where(dead.bool()[None], pre.detach(), torch.tensor(-float('inf')))
        aux_acts = pre * topk_mask(masked, k_aux)
        residual = (x - recon).detach()
        aux = (aux_acts @ p['W_dec'] + p['b_dec'] - residual).pow(2).sum(-1).mean()
        loss = loss + auxc * min(1.0, n_dead / k_aux) * aux
    return loss, mse


def training_golden():
    rng = np.random.default_rng(19)
    n, d, m, k, batch, lr = 40, 8, 24, 3, 16, 1e-2
    x = (rng.standard_normal((n, d)) * 2 + 0.5).astype(np.float32)
    blob = Blob()
    blob.put('x', x)
    cases = []
    for c, (arch, tie, with_dead, l1c) in enumerate([('topk', 1, True, 0), ('topk', 0, False, 0),
                                                       ('standard', 1, True, 0.3)]):
        w_dec = rng.standard_normal((m, d)).astype(np.float32)
        w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
        init = {'W_enc': (w_dec.T * 0.8 + rng.standard_normal((d, m)) * 0.1).astype(np.float32),
                'b_enc': (rng.standard_normal(m) * 0.1).astype(np.float32),
                'W_dec': w_dec, 'b_dec': (rng.standard_normal(d) * 0.2).astype(np.float32)}
        for name, a in init.items():
            blob.put(f'case{c}.init.{name}', a)
        p = {name: torch.tensor(a, requires_grad=True) for name, a in init.items()}
        dead = torch.zeros(m)
        if with_dead:
            dead[rng.choice(m, 10, replace=False)] = 1.0
        blob.put(f'case{c}.dead', dead.numpy())
        opt = torch.optim.Adam(p.values(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        batches, losses, mses = [], [], []
        for _ in range(2):
            rows = rng.choice(n, batch, replace=False)
            batches.append(rows.tolist())
            opt.zero_grad()
            loss, mse = sae_losses(p, torch.tensor(x[rows]), arch, k, tie, dead, l1c, 1 / 32 if with_dead else 0)
            loss.backward()
            opt.step()
            with torch.no_grad():
                p['W_dec'] /= p['W_dec'].norm(dim=1, keepdim=True)
            losses.append(float(loss))
            mses.append(float(mse))
        for name, t in p.items():
            blob.put(f'case{c}.final.{name}', t.detach().numpy())
        cases.append({'architecture': arch, 'tie': tie, 'l1Coefficient': l1c, 'auxCoefficient': 1 / 32,
                      'batches': batches, 'mse': mses, 'losses': losses})
    blob.write('train_golden', {'n': n, 'd': d, 'm': m, 'k': k, 'lr': lr, 'cases': cases})


# ---- 2. SAELens layout by NumPy -----------------------------------------------------------------------------------

def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, a in tensors.items():
        header[name] = {'dtype': DTYPES[a.dtype], 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes())


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    size = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + size])
    header.pop('__metadata__', None)
    out = {}
    for name, info in header.items():
        a, b = info['data_offsets']
        out[name] = np.frombuffer(raw[8 + size + a:8 + size + b], dtype=NP_OF[info['dtype']]).reshape(info['shape'])
    return out


def numpy_encode(w, cfg, x):
    x = x.astype(np.float64)
    sae_in = x - w['b_dec'] if cfg.get('apply_b_dec_to_input', True) else x
    pre = sae_in @ w['W_enc'].astype(np.float64) + w['b_enc']
    arch = cfg['architecture']
    if arch == 'jumprelu':
        acts = pre * (pre > w['threshold'])
    else:
        acts = np.maximum(pre, 0)
        if arch == 'topk' or cfg.get('activation_fn_str') == 'topk':
            k = (cfg.get('activation_fn_kwargs') or {}).get('k', cfg.get('k'))
            keep = np.zeros_like(acts)
            np.put_along_axis(keep, np.argsort(-pre, axis=1)[:, :k], 1, axis=1)
            acts = acts * keep
    return acts, acts @ w['W_dec'].astype(np.float64) + w['b_dec']


def layout_golden():
    rng = np.random.default_rng(7)
    blob = Blob()
    d, m = 16, 48
    x = rng.standard_normal((12, d)).astype(np.float32)
    blob.put('x', x)
    folders = {
        'numpy_topk': ({'architecture': 'topk', 'd_in': d, 'd_sae': m, 'dtype': 'float32', 'device': 'cpu',
                        'apply_b_dec_to_input': True, 'normalize_activations': 'none', 'k': 5,
                        'metadata': {'hook_name': 'blocks.3.hook_resid_post', 'model_name': 'numpy-model'}},
                       np.float32),
        # Gemma Scope style: JumpReLU, old-style top-level fields, no pre-bias on the input, float16 weights.
        'numpy_jumprelu': ({'architecture': 'jumprelu', 'd_in': d, 'd_sae': m, 'dtype': 'float16',
                            'apply_b_dec_to_input': False, 'activation_fn_str': 'relu',
                            'hook_name': 'blocks.5.hook_resid_post', 'hook_layer': 5, 'model_name': 'gemma-2-2b',
                            'normalize_activations': None}, np.float16),
    }
    for folder, (cfg, dtype) in folders.items():
        w = {'W_enc': rng.standard_normal((d, m)) * 0.3, 'b_enc': rng.standard_normal(m) * 0.1,
             'W_dec': rng.standard_normal((m, d)) * 0.3, 'b_dec': rng.standard_normal(d) * 0.1}
        if cfg['architecture'] == 'jumprelu':
            w['threshold'] = np.abs(rng.standard_normal(m)) * 0.3
        w = {k: v.astype(dtype) for k, v in w.items()}
        path = os.path.join(OUT, folder)
        os.makedirs(path, exist_ok=True)
        write_safetensors(os.path.join(path, 'sae_weights.safetensors'), w)
        with open(os.path.join(path, 'cfg.json'), 'w') as f:
            json.dump(cfg, f, indent=2)
        acts, recon = numpy_encode({k: v.astype(np.float64) for k, v in w.items()}, cfg, x)
        blob.put(f'{folder}.acts', acts)
        blob.put(f'{folder}.recon', recon)
    blob.write('layout_golden', {'folders': list(folders)})


def check(folder, x_path, acts_path):
    """We write, NumPy reads: field names, shapes, unit-norm decoder rows, and the activations recomputed here."""
    with open(os.path.join(folder, 'cfg.json')) as f:
        cfg = json.load(f)
    w = read_safetensors(os.path.join(folder, 'sae_weights.safetensors'))
    d, m = cfg['d_in'], cfg['d_sae']
    for key in ['architecture', 'd_in', 'd_sae', 'dtype', 'apply_b_dec_to_input', 'normalize_activations',
                'activation_fn_str', 'activation_fn_kwargs', 'hook_name', 'metadata']:
        assert key in cfg, f'cfg.json lacks {key}'
    assert w['W_enc'].shape == (d, m) and w['W_dec'].shape == (m, d), (w['W_enc'].shape, w['W_dec'].shape)
    assert w['b_enc'].shape == (m,) and w['b_dec'].shape == (d,)
    if cfg['architecture'] == 'topk':
        assert cfg['activation_fn_kwargs']['k'] == cfg['k']
    acts, _ = numpy_encode({k: v.astype(np.float64) for k, v in w.items()}, cfg, np.load(x_path))
    ours = np.load(acts_path)
    err = np.abs(acts - ours).max()
    assert err < 1e-4, f'activations differ by {err}'
    norms = np.linalg.norm(w['W_dec'].astype(np.float64), axis=1)
    print(f'ok: {folder} {cfg["architecture"]} d_in={d} d_sae={m}, max |acts diff| {err:.2e}, '
          f'decoder row norms in [{norms.min():.6f}, {norms.max():.6f}]')


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'check':
        check(*sys.argv[2:5])
    else:
        os.makedirs(OUT, exist_ok=True)
        torch.manual_seed(0)
        training_golden()
        layout_golden()
        print('wrote', os.path.abspath(OUT))
