#!/usr/bin/env python3
"""Goldens for src/neurons/neurons*.ts (docs/method.md#neurons), computed independently with NumPy/SciPy in float64.

Writes test/fixtures/neurons/:
  tiny-llama/config.json, tiny-llama/model.safetensors   a random 3-layer Llama checkpoint (d 16, d_mlp 24, vocab 64)
      with one planted neuron: layer 1's up_proj row 5 (and gate_proj row 7) read the probe direction below from the
      residual stream (the row times layer 1's post_attention_layernorm gain is a multiple of it), and layer 2's
      down_proj column 3 equals it.
  inputs.bin      float64 little-endian: resid_post acts [L, n, d], mlp_post acts [L, n, m], targets [n, 2] (lon, lat),
                  probe direction [d] (coef_standardized of the longitude target at probe layer 1), and a second one
                  [d] (probe layer 2, for the legacy function)
  inputs.json     shapes, entity types, is_test
  golden.json     (a) correlation search: Spearman of every neuron proxy (W_in, W_gate, W_out) with every target
                  (lon, lat, abs_lat, abs_lon) for layers l = 0..L-2; (b) cosines of the probe direction with every
                  neuron's input/gate/output weights as TransformerLens folds them (fold_ln: up and gate rows times
                  the post_attention_layernorm gain; RMSNorm, so nothing is centred); (c) the authors' legacy
                  place_neuron_correlations with start_layer 1 (L = 3): get_top_neurons (k = 10) over the probe
                  layers 1..L-1 (longitude column; layer 2's direction is a second random vector) for W_in and W_out,
                  and make_correlation_df's Spearman of every resid_post layer projected on each top neuron's
                  (folded) weight; single-neuron Spearman and R² (1-D least squares) of every
                  mlp_post neuron, overall and per entity type; a tie case for the column ranking.
Run: /usr/bin/python3 reference/neurons_make_goldens.py
"""
import json
import os
import struct

import numpy as np
from scipy.stats import spearmanr, rankdata

ROOT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'neurons')
L, D, M, V, H = 3, 16, 24, 64, 2
N = 40
rng = np.random.default_rng(7)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f32(a):
    return np.asarray(a, dtype=np.float32)


probe_dir = f32(rng.normal(size=D))
weights = {}
weights['model.embed_tokens.weight'] = f32(rng.normal(size=(V, D)))
for l in range(L):
    p = f'model.layers.{l}'
    weights[f'{p}.input_layernorm.weight'] = f32(1 + 0.1 * rng.normal(size=D))
    for k in 'qkvo':
        weights[f'{p}.self_attn.{k}_proj.weight'] = f32(rng.normal(size=(D, D)) * 0.2)
    weights[f'{p}.post_attention_layernorm.weight'] = f32(1 + 0.1 * rng.normal(size=D))
    weights[f'{p}.mlp.gate_proj.weight'] = f32(rng.normal(size=(M, D)) * 0.2)
    weights[f'{p}.mlp.up_proj.weight'] = f32(rng.normal(size=(M, D)) * 0.2)
    weights[f'{p}.mlp.down_proj.weight'] = f32(rng.normal(size=(D, M)) * 0.2)
weights['model.norm.weight'] = f32(1 + 0.1 * rng.normal(size=D))
weights['lm_head.weight'] = f32(rng.normal(size=(V, D)) * 0.2)
# The planted neurons: weights that read (up, gate: through the norm's gain) or write (down) the probe direction
# (scaled, so cosine = 1 but the weight is not unit).
gain1 = weights['model.layers.1.post_attention_layernorm.weight']
weights['model.layers.1.mlp.up_proj.weight'][5] = f32(3.0 * probe_dir / gain1)
weights['model.layers.1.mlp.gate_proj.weight'][7] = f32(0.5 * probe_dir / gain1)
weights['model.layers.2.mlp.down_proj.weight'][:, 3] = 2.0 * probe_dir

os.makedirs(os.path.join(ROOT, 'tiny-llama'), exist_ok=True)
config = {
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': D, 'num_attention_heads': H,
    'num_key_value_heads': H, 'num_hidden_layers': L, 'intermediate_size': M, 'vocab_size': V,
    'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'hidden_act': 'silu', 'max_position_embeddings': 64,
    'tie_word_embeddings': False, 'bos_token_id': 1, 'eos_token_id': 2, 'torch_dtype': 'float32',
}
with open(os.path.join(ROOT, 'tiny-llama', 'config.json'), 'w') as f:
    json.dump(config, f, indent=2)
write_safetensors(os.path.join(ROOT, 'tiny-llama', 'model.safetensors'), list(weights.items()))

# Activations: float32 values as a store holds them; targets correlated with a few directions.
lon = rng.uniform(-180, 180, size=N)
lat = rng.uniform(-60, 70, size=N)
lat[3] = lat[4]  # a tie in a target
resid = f32(rng.normal(size=(L, N, D)) * 2 + np.outer(lon / 90, probe_dir)[None] + rng.normal(size=D) * 0.5)
mlp_post = f32(rng.normal(size=(L, N, M)))
mlp_post[1, :, 5] = f32(lon / 100 + rng.normal(size=N) * 0.3)  # a "space neuron" activation
mlp_post[2, :, 0] = f32(np.round(lat / 40))  # heavy ties in an activation
types = [['city', 'river', 'park'][i % 3] for i in range(N)]
is_test = [int(i % 4 == 0) for i in range(N)]
targets = np.stack([lon, lat], 1)

W = lambda l, k: weights[f'model.layers.{l}.mlp.{k}_proj.weight'].astype(np.float64)
feature_vals = {'lon': lon, 'lat': lat, 'abs_lat': np.abs(lat), 'abs_lon': np.abs(lon)}


def col_spearman(P, y):
    return np.array([spearmanr(P[:, j], y)[0] for j in range(P.shape[1])])


corr = {}
for l in range(L - 1):
    x = resid[l].astype(np.float64)
    A = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + 1e-6)
    proxies = {'W_in': A @ W(l + 1, 'up').T, 'W_gate': A @ W(l + 1, 'gate').T, 'W_out': A @ W(l, 'down')}
    for w, P in proxies.items():
        for feat, y in feature_vals.items():
            corr[f'{l}/{w}/{feat}'] = col_spearman(P, y).tolist()

u = probe_dir.astype(np.float64) / np.linalg.norm(probe_dir)
unit_rows = lambda Wm: Wm / np.linalg.norm(Wm, axis=1, keepdims=True)
gain = lambda l: weights[f'model.layers.{l}.post_attention_layernorm.weight'].astype(np.float64)
# TransformerLens's W_in / W_gate ([d_model, d_mlp]) after fold_ln, and W_out ([d_mlp, d_model]), per layer.
tl_in = lambda l: (W(l, 'up') * gain(l)[None, :]).T
tl_gate = lambda l: (W(l, 'gate') * gain(l)[None, :]).T
tl_out = lambda l: W(l, 'down').T
cosines = {}
for l in range(L):
    cosines[f'{l}/W_in'] = (unit_rows(tl_in(l).T) @ u).tolist()
    cosines[f'{l}/W_gate'] = (unit_rows(tl_gate(l).T) @ u).tolist()
    cosines[f'{l}/W_out'] = (unit_rows(tl_out(l)) @ u).tolist()

# (c) The legacy function, as written for a TransformerLens model (model_composition.py): start_layer = 1 here.
probe_dir2 = f32(rng.normal(size=D))  # drawn last: every earlier draw is unchanged
START = 1
lon_probes = np.stack([probe_dir, probe_dir2]).astype(np.float64)[: L - START]
lon_probes = lon_probes / np.linalg.norm(lon_probes, axis=1, keepdims=True)


def get_top_neurons(probes, W_in, k=10):
    if W_in:
        Wm = np.stack([tl_in(l) for l in range(L)])  # [l, d, m]
        W_norm = (Wm / np.linalg.norm(Wm, axis=1, keepdims=True)).swapaxes(1, 2)
    else:
        Wm = np.stack([tl_out(l) for l in range(L)])  # [l, m, d]
        W_norm = Wm / np.linalg.norm(Wm, axis=-1, keepdims=True)
    W_comp = np.einsum('lmd,pd->plm', W_norm, probes)
    top = np.argsort(np.abs(W_comp).ravel())[-k:]
    acts, layers, neurons = np.unravel_index(top, W_comp.shape)
    return [
        {'probeLayer': int(START + a), 'layer': int(l), 'neuron': int(n), 'cos': float(W_comp[a, l, n])}
        for a, l, n in zip(acts, layers, neurons)
    ]


legacy = {}
for wname, use_in in (('W_in', True), ('W_out', False)):
    top = get_top_neurons(lon_probes, use_in)
    proj = []
    for l, n in sorted({(t['layer'], t['neuron']) for t in top}):
        w = tl_in(l)[:, n] if use_in else tl_out(l)[n, :]
        for a in range(L):
            proj.append({'layer': l, 'neuron': n, 'activationLayer': a,
                         'spearman': float(spearmanr(resid[a].astype(np.float64) @ w, lon)[0])})
    legacy[wname] = {'top': top, 'projection': proj}


def single(a, y):
    rho = spearmanr(a, y)[0]
    X = np.stack([np.ones_like(a), a], 1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid_ = y - X @ coef
    r2 = 1 - resid_ @ resid_ / np.sum((y - y.mean()) ** 2)
    return [float(rho), float(r2), float(coef[1]), float(coef[0])]


singles = {}
for l in range(L):
    for j in range(M):
        a = mlp_post[l, :, j].astype(np.float64)
        for t, y in (('lon', lon), ('lat', lat)):
            singles[f'{l}/{j}/{t}/all'] = single(a, y)
            for ty in sorted(set(types)):
                idx = [i for i in range(N) if types[i] == ty]
                singles[f'{l}/{j}/{t}/{ty}'] = single(a[idx], y[idx])

# A hand-checkable tie case for column ranking: 6 entities x 3 columns, with ties and a -0/+0 pair.
tie_P = np.array([[1, 0.0, 5], [2, -0.0, 5], [2, 1, 5.5], [3, 1, 4], [2, 2, 4], [0, 0.0, 9]], dtype=np.float32)
tie_y = np.array([3, 1, 4, 1, 5, 9], dtype=np.float64)
tie_corr = [float(spearmanr(tie_P[:, j].astype(np.float64), tie_y)[0]) for j in range(3)]
tie_ranks = [rankdata(tie_P[:, j].astype(np.float64)).tolist() for j in range(3)]

with open(os.path.join(ROOT, 'inputs.bin'), 'wb') as f:
    for arr in (resid, mlp_post, targets, probe_dir, probe_dir2):
        f.write(np.ascontiguousarray(arr, dtype='<f8').tobytes())
with open(os.path.join(ROOT, 'inputs.json'), 'w') as f:
    json.dump({'L': L, 'n': N, 'd': D, 'm': M, 'types': types, 'isTest': is_test,
               'tieP': tie_P.astype(np.float64).tolist(), 'tieY': tie_y.tolist()}, f)
with open(os.path.join(ROOT, 'golden.json'), 'w') as f:
    json.dump({'corr': corr, 'cosines': cosines, 'singles': singles, 'tieCorr': tie_corr, 'tieRanks': tie_ranks,
               'legacy': legacy}, f)
print('wrote', ROOT)
