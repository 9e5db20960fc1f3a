#!/usr/bin/env bash
# The one-shot GPU run (NVIDIA H200 device machine: no Node.js, no Vulkan loader, no network). Needs
# bench/gpu/pack/ from bench/gpu/prepare.sh, carried. Writes results.jsonl, log.txt and gpu.txt into $OUT.
#
#   device run, carry ["bench/gpu/pack"], timeout_s 540:  bash bench/gpu/run.sh
#
# Stages, cheapest first, each under its own time limit so a slow one cannot eat the rest (results so far stay):
#   0 unpack node + CLI, install the Vulkan loader, point it at NVIDIA's ICD; GPU/driver facts -> gpu.txt
#   1 probe: a WebGPU adapter, checked against the CPU by the self-test graph
#   2 parity: every golden fixture (9 generated checkpoints, 6 architectures), webgpu vs cpu vs PyTorch float64
#   3 SmolLM2-135M-shaped bf16 checkpoint: 2,000 world_place entities, all layers: ours (webgpu f32, f16),
#     PyTorch CUDA (manual f32/bf16), transformers output_hidden_states (f32/bf16): entities/s, peak GPU memory,
#     agreement with ours
#   4 the same on a Llama-2-7B-shaped bf16 checkpoint (bench/forward/make_llama7b_bf16.py)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/stl-gpu-out}
mkdir -p "$OUT"
log=$OUT/log.txt
results=$OUT/results.jsonl
work=${WORK:-/tmp/stl-gpu}
rows=${ROWS:-2000}
mkdir -p "$work"
exec > >(tee -a "$log") 2>&1
step() { echo "== $(date -u +%T) $*"; }

step "unpack"
pack=bench/gpu/pack
[ -f $pack/node.xz ] || { echo "no $pack/node.xz: run bench/gpu/prepare.sh and carry bench/gpu/pack"; exit 1; }
xz -dc $pack/node.xz >"$work/node" && chmod +x "$work/node"
tar -C "$work" -xJf $pack/app.tar.xz
node=$work/node
app=$work/app
"$node" --version
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  for f in $pack/libvulkan1_*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export SPACETIME_LENS_SHARED=$app/shared
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  ldconfig -p | grep -i vulkan
  ls -l /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>&1
  [ -f "$icd" ] && cat "$icd"
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
  uname -a
} >"$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

# The whole script stays inside BUDGET_S (default 500 s: a 540 s device timeout with time to write what it has).
deadline=$((SECONDS + ${BUDGET_S:-500}))
left() { local l=$((deadline - SECONDS)); [ "$l" -lt "$1" ] && echo "$l" || echo "$1"; }

run() { # run LIMIT_S ARGS...: one bench.mjs stage (at most LIMIT_S, and never past the deadline), JSON to results
  local limit
  limit=$(left "$1")
  shift
  [ "$limit" -gt 5 ] || { echo "{\"stage\":\"$1\",\"skipped\":\"out of time\"}" | tee -a "$results"; return 1; }
  timeout "$limit" "$node" bench/gpu/bench.mjs "$app" "$@" | tee -a "$results"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || echo "{\"stage\":\"$1\",\"args\":\"$*\",\"exit\":$rc}" | tee -a "$results"
  return "$rc"
}

step "probe"
run 60 probe || { echo "no WebGPU adapter: stopping"; exit 0; }

step "parity"
run 90 parity test/fixtures/engine

step "SmolLM2-135M shape"
smol=$work/smollm2-135m-bf16
run 60 smollm "$smol"
run 150 extract "$smol" smollm2-135m "$work" "$rows" 2000 f32
run 60 extract "$smol" smollm2-135m "$work" "$rows" 2000 f16

step "Llama-2-7B shape"
big=$work/llama2-7b-bf16
if [ "$(left 90)" -gt 5 ] && timeout "$(left 90)" python3 bench/forward/make_llama7b_bf16.py "$big"; then
  cp "$app"/tokenizer/* "$big/"
  run 400 extract "$big" llama2-7b "$work" "$rows" 2000 f32
else
  echo '{"stage":"checkpoint","label":"llama2-7b","skipped":"out of time or failed"}' | tee -a "$results"
fi
step "done"
