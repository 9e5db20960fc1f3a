#!/usr/bin/env python3
"""Goldens for src/data tests, computed independently with NumPy / the Python standard library.

Run from the repository root:  /usr/bin/python3 reference/data_make_goldens.py
Writes test/fixtures/data/*. Reads the paper CSVs from ../shared/data/paper (docs/method.md#datasets, #prompts).
"""
import csv
import datetime as dt
import hashlib
import json
import math
import os
import re
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER = os.environ.get('SPACETIME_LENS_SHARED', os.path.join(ROOT, '..', 'shared'))
PAPER = os.path.join(PAPER, 'data', 'paper')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'data')
NS_PER_YEAR = 1e9 * 60 * 60 * 24 * 365.25


def rows(name):
    with open(os.path.join(PAPER, name + '.csv'), newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def write_json(name, obj):
    with open(os.path.join(OUT, name), 'w', encoding='utf-8') as f:
        json.dump(obj, f, ensure_ascii=False, indent=0)
        f.write('\n')


# --- dates -> years since 1970: numpy datetime64[ns] -> int64 -> float64 / NS_PER_YEAR (what pandas does) ---
def np_years(text):
    ns = np.datetime64(text, 'ns').astype(np.int64)
    return float(ns.astype(np.float64) / NS_PER_YEAR)


def tz_years(text):
    """Timestamps with a zone: Python's datetime for the instant, exact int ns, then float64 like numpy."""
    t = dt.datetime.fromisoformat(text)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    delta = t - epoch
    ns = (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    return float(np.int64(ns).astype(np.float64) / NS_PER_YEAR)


def dates():
    art = rows('art')
    years = np.array([np_years(r['release_date']) for r in art], dtype='<f8')
    # Only a digest of the column (plus a few values) is committed: the paper's rows stay in ../shared.
    write_json('art_years.json', {'n': len(years), 'sha256': hashlib.sha256(years.tobytes()).hexdigest(),
                                  'head': years[:5].tolist()})
    plain = ['1970-01-01', '2000-01-01', '1950-01-06', '2022-11-25', '1900-02-28', '2000-02-29', '1700-03-01',
             '1678-01-01', '2262-04-11', '1969-12-31T23:59:59', '2010-06-15T12:34:56', '1999-12-31T23:59:59.999999999',
             '2015-07-04T01:02:03.5', '1986', '1986-09']
    zoned = ['2010-01-01T05:00:00+00:00', '2012-11-07T03:15:00-05:00', '2020-02-29T23:30:00+05:30',
             '1965-03-02T00:00:00+01:00']
    cases = [[s, np_years(s)] for s in plain]
    # datetime64[ns] spans 1678..2262 (as in pandas); dates outside it are not compared.
    # np.datetime64 takes no zones: the same instants through datetime (input forms +HHMM / Z are tested in TS).
    cases += [[s, tz_years(s)] for s in zoned]
    write_json('date_cases.json', cases)


# --- entity strings, written from docs/method.md#prompts ---
def world_entity(name):
    m = re.search(r'\((.*?)\)', name)
    if m:
        return m.group(1) + "'s " + re.sub(r'\((.*?)\)', '', name)
    if ',' in name:
        parts = name.split(',')
        return parts[-1].strip() + "'s " + ','.join(parts[:-1])
    return name


STOP = {'AND', 'OR', 'OF', 'THE', 'A', 'AT', '&', 'IN', 'TO'}
ABBR = {'FDNY', 'NYCT', 'YMCA', 'LGA', 'US', 'NYC', 'PS', 'IS', 'NYS', 'UN', 'NY', 'EMS', 'JCC', 'NYU', 'CC',
        'NYPD', 'NYPA', 'DHS'}


def nyc_entity(name):
    out = []
    for w in name.split():
        out.append(w.lower() if w in STOP else w if w in ABBR else w.lower().capitalize())
    return ' '.join(out)


def art_entity(creator, title):
    return f"{creator}{chr(39) if creator.endswith('s') else chr(39) + 's'} {title}"


def short_hash(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def entities():
    # The paper's rows stay in ../shared: the golden holds only row indices and hashes of the expected strings.
    world = [[i, short_hash(world_entity(r['name']))] for i, r in enumerate(rows('world_place'))
             if '(' in r['name'] or ',' in r['name']][::4]
    nyc = [[i, short_hash(nyc_entity(r['name']))] for i, r in enumerate(rows('nyc_place'))
           if i % 8 == 0 or any(w in STOP or w in ABBR for w in r['name'].split())][:3000]
    art = [[i, short_hash(art_entity(r['creator'], r['title']))] for i, r in enumerate(rows('art')) if i % 25 == 0]
    write_json('entity_string_hashes.json', {'world_place': world, 'nyc_place': nyc, 'art': art})
    print('entities', len(world), len(nyc), len(art))


# --- targets and split sizes of the four CSVs ---
def targets():
    out = {}
    for name in ['world_place', 'us_place', 'nyc_place']:
        rs = rows(name)
        lon = [float(r['longitude']) for r in rs]
        lat = [float(r['latitude']) for r in rs]
        out[name] = {'n': len(rs), 'test': sum(r['is_test'] == 'True' for r in rs),
                     'lonSum': math.fsum(lon), 'latSum': math.fsum(lat),
                     'lonSq': math.fsum(x * x for x in lon), 'latSq': math.fsum(x * x for x in lat),
                     'first': [lon[0], lat[0]], 'last': [lon[-1], lat[-1]]}
    rs = rows('art')
    out['art'] = {'n': len(rs), 'test': sum(r['is_test'] == 'True' for r in rs)}
    write_json('paper_targets.json', out)


# --- name-hash split: sha256("{seed}:{name}"), first 6 bytes big-endian / 2**48 < fraction ---
def split():
    names = [f'Place {i} {chr(0x41 + i % 26)}{chr(0xe0 + i % 32)}' for i in range(400)] + ['', 'é', 'Zürich', '東京', 'a' * 300]
    cases = {}
    for seed, frac in [(0, 0.2), (7, 0.2), (0, 0.5)]:
        flags = []
        for nm in names:
            h = hashlib.sha256(f'{seed}:{nm}'.encode('utf-8')).digest()
            flags.append(int(int.from_bytes(h[:6], 'big') / 2**48 < frac))
        cases[f'{seed}/{frac}'] = flags
    write_json('split_hash.json', {'names': names, 'cases': cases})


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    dates()
    entities()
    targets()
    split()
    print('wrote', sorted(os.listdir(OUT)))
