#!/bin/bash
# Submits the extraction array (extract-array.sbatch, one task per shard) and the merge (merge.sbatch) that waits
# for every task to succeed (--dependency=afterok:<array job id>).
#
#   MODEL=meta-llama/Llama-2-7b-hf DATASET=world_place PROMPT=coords OUT=$SCRATCH/stores/world SHARDS=8 \
#     examples/slurm/submit.sh [extra sbatch options for both jobs, e.g. --account=myproj --partition=cpu]
#
# Optional, passed through to the array tasks: LAYERS, DTYPE, BATCH_SIZE, DEVICE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MODEL:?set MODEL (Hub id or checkpoint directory)}"
: "${DATASET:?set DATASET (world_place, us_place, ... or a CSV path)}"
: "${PROMPT:?set PROMPT (a prompt variant; see spacetime-lens datasets prompts NAME)}"
: "${OUT:?set OUT (store directory; shards are written next to it)}"
SHARDS=${SHARDS:-8}
if ! [[ "$SHARDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: SHARDS must be a positive integer, got '$SHARDS'" >&2
  exit 1
fi
export MODEL DATASET PROMPT OUT
mkdir -p logs
# --parsable prints "jobid" or "jobid;cluster".
array=$(sbatch --parsable "$@" --array=0-$((SHARDS - 1)) --export=ALL "$here/extract-array.sbatch")
array=${array%%;*}
if ! [[ "$array" =~ ^[0-9]+$ ]]; then
  echo "submit.sh: sbatch did not return a job id (got '$array')" >&2
  exit 1
fi
merge=$(sbatch --parsable "$@" --dependency=afterok:"$array" --export=ALL "$here/merge.sbatch")
echo "array job $array submitted ($SHARDS shards); merge job ${merge%%;*} runs when every task has succeeded"
