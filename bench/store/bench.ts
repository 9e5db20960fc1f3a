/**
 * Store and formats throughput against NumPy / PyTorch in the same run, on the same data and files:
 * f16/bf16 conversions, reading one [rows, cols] layer file (f32, and f16 widened to f32) and writing one
 * (atomic, fsynced). Files are read from the page cache after a warm-up, so this measures the code, not the disk.
 * `*_into_*` rows convert into an already paged-in buffer: on this VM a fresh page costs ~40 us to fault in, and
 * NumPy asks for transparent huge pages (madvise) while V8 cannot, so fresh 128 MiB results cost Node ~1 s more.
 * Usage: npx tsx bench/store/bench.ts [--rows 8192] [--cols 4096]
 * The machine has 2 cores shared with other jobs: timings are noisy; run twice and compare ratios.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bf16ToF32,
  bf16ToF32Into,
  f16ToF32,
  f16ToF32Into,
  f32ToBf16,
  f32ToF16,
  SafetensorsFile,
  writeSafetensors,
} from '../../src/formats/index.js';
import { readLayerFile, writeLayerFile } from '../../src/store/index.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rows = flag('rows', 8192);
const cols = flag('cols', 4096);
const count = rows * cols;
const run = new BenchRun('store');

async function best(fn: () => unknown, reps = 3): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, (performance.now() - t) / 1000);
  }
  return min;
}

const x = new Float32Array(count);
let s = 12345;
for (let i = 0; i < count; i++) {
  s = (Math.imul(s, 1103515245) + 12345) >>> 0;
  x[i] = ((s / 2 ** 32) * 2 - 1) * 8; // activations-like magnitudes
}
const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
try {
  writeFileSync(join(dir, 'x.bin'), new Uint8Array(x.buffer));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ rows, cols }));
  await writeLayerFile(dir, 'layer_f32', x, rows, cols, 'f32');
  await writeLayerFile(dir, 'layer_f16', x, rows, cols, 'f16');
  const h = f32ToF16(x);
  const bf = f32ToBf16(x);
  const pre = new Float32Array(count).fill(1); // already paged in
  const ours: Record<string, number> = {
    f32_to_f16: await best(() => f32ToF16(x)),
    f16_to_f32: await best(() => f16ToF32(h)),
    f32_to_bf16: await best(() => f32ToBf16(x)),
    bf16_to_f32: await best(() => bf16ToF32(bf)),
    f16_into_f32: await best(() => f16ToF32Into(h, pre)),
    bf16_into_f32: await best(() => bf16ToF32Into(bf, pre)),
    read_f32: await best(() => readLayerFile(join(dir, 'layer_f32.safetensors'), 'layer_f32', rows, cols)),
    read_f16: await best(() => readLayerFile(join(dir, 'layer_f16.safetensors'), 'layer_f16', rows, cols)),
    write_f32: await best(() =>
      writeSafetensors(join(dir, 'ts_out.safetensors'), [
        { name: 'x', dtype: 'F32', shape: [rows, cols], data: x },
      ]),
    ),
  };
  // Sanity: both sides read the same values.
  const f = await SafetensorsFile.open(join(dir, 'layer_f16.safetensors'));
  if ((await f.readFloat32('layer_f16'))[7] !== f16ToF32(h)[7]) throw new Error('f16 layer mismatch');
  await f.close();

  const py = runPython(join(import.meta.dirname, 'reference.py'), [dir]);
  const ref: Record<string, number> = JSON.parse(py.stdout);
  const mb = (count * 4) / 2 ** 20;
  console.log(
    `${rows} x ${cols} values (${mb.toFixed(0)} MiB as f32); best of 3; ratio = reference time / ours (>1: we are faster)`,
  );
  console.log('operation      ours (s)   reference (s)  ratio   reference');
  const refName: Record<string, string> = {
    f32_to_f16: 'NumPy astype(float16)',
    f16_to_f32: 'NumPy astype(float32)',
    f32_to_bf16: 'torch .to(bfloat16)',
    bf16_to_f32: 'torch .to(float32)',
    f16_into_f32: 'NumPy copyto(f32 buffer, f16)',
    bf16_into_f32: 'torch f32_buffer.copy_(bf16)',
    read_f32: 'NumPy docs snippet',
    read_f16: 'NumPy docs snippet + astype(float32)',
    write_f32: 'NumPy tobytes + fsync + rename',
  };
  for (const key of Object.keys(ours)) {
    const ratio = ref[key]! / ours[key]!;
    console.log(
      `${key.padEnd(14)} ${ours[key]!.toFixed(4).padStart(8)}   ${ref[key]!.toFixed(4).padStart(13)}  ${ratio.toFixed(2).padStart(5)}x  ${refName[key]}`,
    );
    run.result({
      benchmark: `${key}, ${rows} x ${cols} (best of 3)`,
      unit: 's',
      ours: ours[key]!,
      reference: ref[key]!,
      referenceName: refName[key]!,
      ratio,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
run.finish();
