#!/bin/bash
# Submits the extraction array and the merge that waits for it.
#   MODEL=meta-llama/Llama-2-7b-hf DATASET=world_place PROMPT=coords OUT=$SCRATCH/stores/world SHARDS=8 \
#     examples/slurm/submit.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MODEL:?}" "${DATASET:?}" "${PROMPT:?}" "${OUT:?}"
SHARDS=${SHARDS:-8}
mkdir -p logs
array=$(sbatch --parsable --array=0-$((SHARDS - 1)) --export=ALL "$here/extract-array.sbatch")
sbatch --dependency=afterok:"$array" --export=ALL "$here/merge.sbatch"
echo "array job $array submitted ($SHARDS shards); the merge runs when every task has succeeded"
