#!/usr/bin/env python3
"""Goldens for the causal tools (src/neurons/causal-edits.ts, patching.ts, ablation.ts), PyTorch float64.

Writes test/fixtures/causal/:
  planted-llama/config.json, model.safetensors   a random 2-layer Llama (d 32, vocab 80; the engine fixtures'
      generator, reference/engine_make_goldens.py) with two planted residual directions:
        P = e_0, USED: no block reads or writes coordinate 0 (its input-norm gains and its o_proj / down_proj rows are
            zero), each token's embedding carries a value there, and the unembedding reads it: lm_head[c, 0] =
            BETA * z_c for the 8 candidate tokens c = 40..47 (z from -1 to 1), 0 for every other token;
        Q = e_1, UNREAD: the same, except that lm_head[:, 1] = 0 too, so only the RMS norms see it.
  golden.json   for token-level prompts (ids, the edited position, candidate ids) and edits of
      blocks.{L}.hook_resid_post (add a vector at the edited position; project a subspace out at every position):
      every candidate's teacher-forced sum of log-probabilities and first-token probability, the argmax next token,
      the edited stream at the edited position (what the hook holds after the edit), the expectation of z under the
      renormalised candidate distribution and KL(clean || edited); and the hand cases' aggregates: directed
      patching along P (pooled slope of E[z] against the amount) and mean KL / |d log P(true)| of ablating P and Q.
Run: /usr/bin/python3 reference/causal_make_goldens.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from engine_make_goldens import forward_llama, llama_cfg, llama_weights, rounded, write_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)
ROOT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'causal')
CANDS = list(range(40, 48))
Z = torch.linspace(-1, 1, len(CANDS))
ENTITIES = list(range(10, 18))
A_EMBED = 1.5  # size of the planted coordinates in the embeddings (the stream's RMS is about 6)
BETA = 10.0     # how strongly the unembedding reads P


def planted_model():
    cfg = llama_cfg()
    g = torch.Generator().manual_seed(2701)
    W = llama_weights(cfg, g)
    L = cfg['num_hidden_layers']
    for l in range(L):
        p = f'model.layers.{l}.'
        W[p + 'input_layernorm.weight'][:2] = 0
        W[p + 'post_attention_layernorm.weight'][:2] = 0
        W[p + 'self_attn.o_proj.weight'][:2, :] = 0
        W[p + 'mlp.down_proj.weight'][:2, :] = 0
    V = cfg['vocab_size']
    s = torch.rand(V, 2, generator=g) * 2 - 1
    W['model.embed_tokens.weight'][:, :2] = A_EMBED * s
    W['model.norm.weight'][:2] = 1
    W['lm_head.weight'][:, :2] = 0
    W['lm_head.weight'][CANDS, 0] = BETA * Z
    return cfg, W


def edit_fn(layer, kind, pos, vec=None, basis=None):
    hook = f'blocks.{layer}.hook_resid_post'

    def f(name, value):
        if name != hook or kind == 'none':
            return value
        value = value.clone()
        if kind == 'add':
            value[pos] += vec
        else:  # project out span(basis) at every position
            Q, _ = torch.linalg.qr(torch.stack(basis, 1))
            value = value - (value @ Q) @ Q.T
        return value

    return f


def score(cfg, W, ids, cands, f, layer, pos):
    """Teacher-forced candidate log-probs (one forward per candidate), the next-token argmax, the edited stream."""
    lps, firsts = [], []
    stream = None
    top = None
    for c in cands:
        seq = ids + c
        out = forward_llama(cfg, W, seq, f)
        logp = torch.log_softmax(out['logits'], -1)
        p = len(ids) - 1
        lps.append(float(sum(logp[p + k, t] for k, t in enumerate(c))))
        firsts.append(float(torch.exp(logp[p, c[0]])))
        if stream is None:
            stream = out[f'blocks.{layer}.hook_resid_post'][pos].tolist()
            top = int(torch.argmax(logp[p]))
            top = {'id': top, 'prob': float(torch.exp(logp[p, top]))}
    return lps, firsts, top, stream


def expect(lps):
    p = torch.softmax(torch.tensor(lps[: len(CANDS)]), 0)
    return p, float((p * Z).sum())


def main():
    cfg, W = planted_model()
    Wr = {k: rounded(v, 'F32') for k, v in W.items()}
    d = cfg['hidden_size']
    mdir = os.path.join(ROOT, 'planted-llama')
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, 'config.json'), 'w') as fh:
        json.dump(cfg, fh, indent=2)
    write_safetensors(os.path.join(mdir, 'model.safetensors'), W, lambda n: 'F32')

    g = torch.Generator().manual_seed(31)
    vecs = {f'r{i}': torch.randn(d, generator=g) for i in range(3)}
    e0, e1 = torch.zeros(d), torch.zeros(d)
    e0[0], e1[1] = 1, 1
    vecs['P'], vecs['Q'] = e0, e1
    probe = torch.randn(d, generator=g)
    prompts = [
        {'ids': [1, 12, 30, 31], 'editPosition': 1, 'candidates': [[c] for c in CANDS] + [[50, 51]]},
        {'ids': [1, 15], 'editPosition': 1, 'candidates': [[c] for c in CANDS]},
    ]
    edits = [
        {'kind': 'none'},
        {'kind': 'add', 'vector': 'r0', 'scale': -2.0},
        {'kind': 'add', 'vector': 'r0', 'scale': 1.5},
        {'kind': 'add', 'vector': 'P', 'scale': 0.5},
        {'kind': 'project', 'basis': ['P']},
        {'kind': 'project', 'basis': ['Q']},
        {'kind': 'project', 'basis': ['r1']},
        {'kind': 'project', 'basis': ['P', 'r2']},
    ]
    cases = []
    for pi, pr in enumerate(prompts):
        for layer in (0, 1):
            for ei, ed in enumerate(edits):
                f = edit_fn(layer, ed['kind'], pr['editPosition'],
                            vec=vecs.get(ed.get('vector'), torch.zeros(d)) * ed.get('scale', 0),
                            basis=[vecs[b] for b in ed.get('basis', [])])
                lps, firsts, top, stream = score(cfg, Wr, pr['ids'], pr['candidates'], f, layer, pr['editPosition'])
                cases.append({'prompt': pi, 'layer': layer, 'edit': ei, 'logProbs': lps, 'firstProbs': firsts,
                              'top': top, 'stream': stream, 'reading': float(torch.tensor(stream) @ probe)})
    for c in cases:
        clean = next(x for x in cases if x['prompt'] == c['prompt'] and x['layer'] == c['layer'] and x['edit'] == 0)
        p, ez = expect(c['logProbs'])
        q, _ = expect(clean['logProbs'])
        c['expectedZ'] = ez
        c['kl'] = float((q * (q.log() - p.log())).sum())

    # Hand cases at layer 1 with prompts [BOS, entity]; entity i's true answer is candidate i.
    amounts = [-2.0, -1.0, 1.0, 2.0]
    W_SCALE = 2.0  # the steering direction is w = 2 e_0, so unit 'target' moves x_0 by amount / 2
    num = den = 0.0
    for i, ent in enumerate(ENTITIES):
        ids = [1, ent]
        cands = [[c] for c in CANDS]
        base = score(cfg, Wr, ids, cands, edit_fn(1, 'none', 1), 1, 1)[0]
        for a in amounts:
            lp = score(cfg, Wr, ids, cands, edit_fn(1, 'add', 1, vec=e0 * (a / W_SCALE)), 1, 1)[0]
            num += a * (expect(lp)[1] - expect(base)[1])
            den += a * a
    ablate = {}
    for name, vec in (('P', e0), ('Q', e1)):
        kls, dl, dz = [], [], []
        for i, ent in enumerate(ENTITIES):
            ids = [1, ent]
            cands = [[c] for c in CANDS]
            base = score(cfg, Wr, ids, cands, edit_fn(1, 'none', 1), 1, 1)[0]
            lp = score(cfg, Wr, ids, cands, edit_fn(1, 'project', 1, basis=[vec]), 1, 1)[0]
            p0, z0 = expect(base)
            p1, z1 = expect(lp)
            kls.append(float((p0 * (p0.log() - p1.log())).sum()))
            dl.append(abs(lp[i] - base[i]))
            dz.append(abs(z1 - z0))
        ablate[name] = {'kl': sum(kls) / len(kls), 'absDlogpTrue': sum(dl) / len(dl), 'absDz': sum(dz) / len(dz)}
        print(f'ablate {name}: mean KL {ablate[name]["kl"]:.3e}, |dlogp true| {ablate[name]["absDlogpTrue"]:.3e}')
    print(f'patch P: slope of E[z] {num / den:.4f} per amount')
    gold = {
        'torch': torch.__version__,
        'candidates': CANDS, 'z': Z.tolist(), 'entities': ENTITIES,
        'vectors': {k: v.tolist() for k, v in vecs.items()}, 'probe': probe.tolist(),
        'prompts': prompts, 'edits': edits, 'cases': cases,
        'patch': {'layer': 1, 'amounts': amounts, 'wScale': W_SCALE, 'slope': num / den},
        'ablate': {'layer': 1, 'prompt': 'BOS entity', **ablate},
    }
    with open(os.path.join(ROOT, 'golden.json'), 'w') as fh:
        json.dump(gold, fh, indent=1)


if __name__ == '__main__':
    main()
