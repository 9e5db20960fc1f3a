#!/usr/bin/env python3
"""Writes the loading area's fixtures (test/fixtures/loading/): tiny GPT-2- and Pythia-style byte-level BPE
tokenizers, and tiny checkpoints in F32 / F16 / BF16, single-file and sharded, with the values PyTorch reads back.

The safetensors files are written here by hand (header JSON + raw little-endian bytes, as the format spec says) so
that the TypeScript reader is checked against an independent writer. Expected values come from torch's own
dtype conversion (`.to(torch.float32)`), stored as float64 JSON.

Run from the repository root:  /usr/bin/python3 reference/loading_make_fixtures.py
"""
import json
import os
import struct

import torch

OUT = os.path.join('test', 'fixtures', 'loading')


def bytes_to_unicode():
    """GPT-2's byte -> printable-unicode table (openai/gpt-2 encoder.py)."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


MERGES = [('t', 'h'), ('th', 'e'), ('Ġ', 'c'), ('a', 't'), ('Ġc', 'at')]


def tokenizer_json(eot_first: bool, nfc: bool):
    byte_chars = [bytes_to_unicode()[b] for b in range(256)]
    tokens = byte_chars + [a + b for a, b in MERGES]
    tokens = (['<|endoftext|>'] + tokens) if eot_first else (tokens + ['<|endoftext|>'])
    vocab = {t: i for i, t in enumerate(tokens)}
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [{'id': vocab['<|endoftext|>'], 'content': '<|endoftext|>', 'single_word': False,
                          'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}],
        'normalizer': {'type': 'NFC'} if nfc else None,
        'pre_tokenizer': byte_level,
        'post_processor': {**byte_level, 'trim_offsets': False},
        'decoder': byte_level,
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                  'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'vocab': vocab,
                  'merges': [f'{a} {b}' for a, b in MERGES]},
    }


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write('\n')


DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64}


def raw_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype('<i2').tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype_name, tensor). Header padded with spaces to a multiple of 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name, dtype, t in tensors:
        data = raw_bytes(t.to(DTYPES[dtype]))
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def tiny_tensors(gen):
    """A GPT-2-shaped 1-layer model with d=4 over the 262-token tiny vocab (values only, not trained)."""
    d, v = 4, 262
    return [
        ('wte.weight', torch.randn(v, d, generator=gen, dtype=torch.float64)),
        ('wpe.weight', torch.randn(8, d, generator=gen, dtype=torch.float64)),
        ('h.0.ln_1.weight', 1 + 0.1 * torch.randn(d, generator=gen, dtype=torch.float64)),
        ('h.0.attn.c_attn.weight', torch.randn(d, 3 * d, generator=gen, dtype=torch.float64)),
        ('h.0.attn.c_attn.bias', torch.randn(3 * d, generator=gen, dtype=torch.float64) * 1e3),
        ('ln_f.weight', torch.randn(d, generator=gen, dtype=torch.float64) * 1e-3),
    ]


def main():
    gen = torch.Generator().manual_seed(20231002)

    # Tokenizers. GPT-2: <|endoftext|> is the last id, tokenizer_config.json names no special tokens (as gpt2's own).
    gpt2 = os.path.join(OUT, 'tiny-gpt2')
    write_json(os.path.join(gpt2, 'tokenizer.json'), tokenizer_json(eot_first=False, nfc=False))
    write_json(os.path.join(gpt2, 'tokenizer_config.json'), {'model_max_length': 1024})
    write_json(os.path.join(gpt2, 'config.json'), {'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'],
                                                    'n_embd': 4, 'n_layer': 1, 'n_head': 2, 'vocab_size': 262,
                                                    'n_positions': 8, 'torch_dtype': 'float32'})
    # Pythia (GPT-NeoX): <|endoftext|> = 0 is bos/eos/unk, NFC normaliser, as EleutherAI/pythia-*'s files.
    neox = os.path.join(OUT, 'tiny-neox')
    write_json(os.path.join(neox, 'tokenizer.json'), tokenizer_json(eot_first=True, nfc=True))
    write_json(os.path.join(neox, 'tokenizer_config.json'), {
        'add_prefix_space': False, 'bos_token': '<|endoftext|>', 'eos_token': '<|endoftext|>',
        'unk_token': '<|endoftext|>', 'tokenizer_class': 'GPTNeoXTokenizer'})
    write_json(os.path.join(neox, 'config.json'), {'model_type': 'gpt_neox', 'vocab_size': 262})

    # Checkpoints: one tiny model, written as F32 / F16 / BF16 single files and as a 2-shard BF16 checkpoint.
    tensors = tiny_tensors(gen)
    expected = {}
    ck = os.path.join(OUT, 'checkpoints')
    for dtype in ['F32', 'F16', 'BF16']:
        d = os.path.join(ck, dtype.lower())
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, 'config.json'), {'model_type': 'gpt2', 'n_embd': 4, 'n_layer': 1})
        items = [(n, dtype, t) for n, t in tensors]
        if dtype == 'F32':
            items.append(('h.0.attn.bias_mask', 'I64', torch.tensor([[1, 0], [1, 1]], dtype=torch.int64)))
        write_safetensors(os.path.join(d, 'model.safetensors'), items, {'format': 'pt'})
        expected[dtype] = {n: t.to(DTYPES[dtype]).to(torch.float32).double().flatten().tolist() for n, t in tensors}
    shard = os.path.join(ck, 'sharded')
    os.makedirs(shard, exist_ok=True)
    write_json(os.path.join(shard, 'config.json'), {'model_type': 'gpt2', 'n_embd': 4, 'n_layer': 1})
    parts = [tensors[:3], tensors[3:]]
    weight_map = {}
    for i, part in enumerate(parts):
        fname = f'model-{i + 1:05d}-of-{len(parts):05d}.safetensors'
        write_safetensors(os.path.join(shard, fname), [(n, 'BF16', t) for n, t in part], {'format': 'pt'})
        for n, _ in part:
            weight_map[n] = fname
    total = sum(t.numel() * 2 for _, t in tensors)
    write_json(os.path.join(shard, 'model.safetensors.index.json'),
               {'metadata': {'total_size': total}, 'weight_map': weight_map})
    expected['shapes'] = {n: list(t.shape) for n, t in tensors}
    write_json(os.path.join(ck, 'expected.json'), expected)


if __name__ == '__main__':
    main()
