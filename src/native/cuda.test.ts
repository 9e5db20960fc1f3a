/**
 * The CUDA provider's diagnosis: each branch of the explanation from its facts, the loader probe on real libraries,
 * and the real probe on this machine (whose onnxruntime-node has no CUDA provider installed unless someone ran the
 * CUDA install; then the probe must pass the self-test against the CPU instead).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CUDA_INSTALL,
  type CudaFacts,
  cudaSessionError,
  explainCuda,
  libraryLoadError,
  ortBinDir,
  PROVIDER_FILES,
  probeCuda,
} from './cuda.js';

const facts = (o: Partial<CudaFacts>): CudaFacts => ({
  platform: 'linux',
  binDir: '/x/bin',
  missingProviderFiles: [],
  missingLibraries: [],
  ortMessage: 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library',
  ...o,
});

test('explainCuda: not installed, does not load (naming what the loader says), other failures quoted', () => {
  assert.equal(
    explainCuda(facts({ missingProviderFiles: ['libonnxruntime_providers_cuda.so'] })),
    "onnxruntime-node's CUDA provider is not installed (no libonnxruntime_providers_cuda.so in /x/bin); install " +
      `it with \`${CUDA_INSTALL}\` (needs CUDA 12 and cuDNN 9)`,
  );
  assert.match(
    explainCuda(
      facts({
        providerLoadError: 'libcudnn.so.9: cannot open shared object file: No such file or directory',
        missingLibraries: ['libcudnn.so.9'],
      }),
    ),
    /^the CUDA provider does not load: libcudnn\.so\.9: cannot open shared object file: No such file or directory \(libcudnn\.so\.9 do not load\); install CUDA 12 and cuDNN 9/,
  );
  assert.equal(
    explainCuda(facts({ ortMessage: 'CUDA failure 100: no CUDA-capable device is detected' })),
    'the CUDA session failed: CUDA failure 100: no CUDA-capable device is detected',
  );
  assert.match(explainCuda(facts({ platform: 'darwin' })), /no CUDA provider for darwin/);
  // engine errors that are not about loading pass through with the real text
  assert.equal(
    cudaSessionError(new Error('CUDA error cudaErrorMemoryAllocation: out of memory\n  at ...')),
    'the CUDA session failed: CUDA error cudaErrorMemoryAllocation: out of memory',
  );
});

test('libraryLoadError: the dynamic loader’s own message, undefined for a library that loads', () => {
  assert.equal(libraryLoadError('libc.so.6'), undefined);
  assert.match(
    libraryLoadError('libspacetime-lens-none.so.9') ?? '',
    /libspacetime-lens-none\.so\.9: cannot open shared object file/,
  );
});

test('the real probe on this machine', async () => {
  const installed = PROVIDER_FILES.every((f) => existsSync(join(ortBinDir(), f)));
  const result = await probeCuda();
  if (installed && result.ok) {
    assert.ok(result.maxRelError <= 1e-4);
    return;
  }
  assert.equal(result.ok, false);
  if (!result.ok && !installed && process.platform === 'linux') {
    assert.match(result.reason, /CUDA provider is not installed \(no libonnxruntime_providers_shared\.so/);
    assert.match(result.reason, new RegExp(CUDA_INSTALL.replaceAll(/[.-]/g, '\\$&')));
    // the same explanation for onnxruntime's bare message from a session
    assert.equal(
      cudaSessionError(
        new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'),
      ),
      result.reason,
    );
  }
});
