"""Golden for the paper's 8-bit per-channel activation quantisation (docs/method.md#activations; wesg52/world-models utils.py
adjust_precision(per_channel=True) applied after save_activations.py's fp16 cast).

Writes test/fixtures/extract/quantize.json: the fp32 input, torch's quint8 codes, scales, zero points and the
dequantised values. Developer-run: /usr/bin/python3 reference/extract_quantize_golden.py
"""
import json
import os

import numpy as np
import torch

rng = np.random.default_rng(20231004)
n, d = 41, 12
x = rng.normal(0.0, 1.0, size=(n, d)).astype(np.float32)
x[:, 1] *= 100.0          # wide column
x[:, 2] = x[:, 2] * 1e-3 + 5.0  # narrow column far from zero
x[:, 3] = np.abs(x[:, 3])  # all positive: zero point 0
x[:, 4] = -np.abs(x[:, 4])  # all negative: zero point 255
x[:, 5] = np.round(x[:, 5] * 4) / 4  # many exact ties
act = torch.from_numpy(x).to(torch.float16).to(torch.float32)  # save_activations.py keeps fp16, then .to(float32)

# adjust_precision(per_channel=True), as in the authors' utils.py
min_vals = act.min(dim=0)[0]
max_vals = act.max(dim=0)[0]
scale = (max_vals - min_vals) / (2 ** 8 - 1)
zero_point = torch.round(-min_vals / scale)
q = torch.quantize_per_channel(act, scale, zero_point, 1, torch.quint8)

out = {
    "n": n,
    "d": d,
    "input": x.flatten().tolist(),  # float32 values, exact as JSON doubles
    "fp16_rounded": act.numpy().flatten().tolist(),
    "codes": q.int_repr().numpy().flatten().tolist(),
    "scales": q.q_per_channel_scales().numpy().tolist(),  # float64 as torch stores them
    "zero_points": q.q_per_channel_zero_points().numpy().tolist(),
    "dequantized": q.dequantize().numpy().flatten().tolist(),
    "torch": torch.__version__,
}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "extract", "quantize.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path, "torch", torch.__version__)
