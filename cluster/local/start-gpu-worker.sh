#!/usr/bin/env bash
# Join a GPU machine to a Ray cluster started with cluster/local/start-head.sh.
#
#   cluster/local/start-gpu-worker.sh HEAD_ADDRESS[:PORT] [extra `ray start` options]
#
# seqbench puts one model replica on each GPU (num_gpus=1) and materialization tasks (0.25 CPU)
# on the CPUs. This machine needs what every node needs (cluster/README.md): the same seqbench
# (and Ray, TensorFlow) version as the driver, the genome at the same path as on the head, and the
# model at the same path or a shared TFHUB_CACHE_DIR (export it before running this script: Ray's
# worker processes inherit this environment).
#
# Settings (environment):
#   NUM_GPUS          GPUs to offer (default: counted with nvidia-smi). Set it explicitly to
#                     offer fewer GPUs, or fake ones on a machine without (tests only).
#   NUM_CPUS          CPUs to offer (default: all).
#   OBJECT_STORE_MB   Ray object store size (default 4096). Keep it below the free space of /dev/shm.
#
# Security (docs/security.md): token authentication is on (RAY_AUTH_MODE=token). Use the head's
# token: copy its ~/.ray/auth_token here (mode 600), or set RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH.
# The script refuses to start without a token. Usage statistics are off.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 HEAD_ADDRESS[:PORT] [extra ray start options]" >&2
  exit 2
fi
HEAD=$1
shift
[[ "$HEAD" == *:* ]] || HEAD="$HEAD:6379"

RAY=${RAY:-ray}
OBJECT_STORE_MB=${OBJECT_STORE_MB:-4096}
if [[ -z "${NUM_GPUS:-}" ]]; then
  NUM_GPUS=0
  if command -v nvidia-smi >/dev/null 2>&1; then
    NUM_GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  fi
  if [[ "$NUM_GPUS" -eq 0 ]]; then
    echo "start-gpu-worker: no GPU found (nvidia-smi); set NUM_GPUS to override" >&2
    exit 1
  fi
fi

export RAY_USAGE_STATS_ENABLED=0 RAY_USAGE_STATS_PROMPT_ENABLED=0
export RAY_AUTH_MODE=token
if [[ -z "${RAY_AUTH_TOKEN:-}" && -z "${RAY_AUTH_TOKEN_PATH:-}" ]]; then
  token_file="$HOME/.ray/auth_token"
  if [[ ! -s "$token_file" ]]; then
    echo "start-gpu-worker: no Ray token: copy the head's ~/.ray/auth_token to $token_file" \
         "(mode 600), or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH" >&2
    exit 1
  fi
  chmod 600 "$token_file"
fi

shm_free_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}' || true)
if [[ -n "$shm_free_mb" && "$shm_free_mb" -lt "$OBJECT_STORE_MB" ]]; then
  echo "start-gpu-worker: warning: /dev/shm has ${shm_free_mb} MB free < OBJECT_STORE_MB=${OBJECT_STORE_MB};" \
       "Ray will fall back to slower disk storage" >&2
fi

args=(start
      --address="$HEAD"
      --num-gpus="$NUM_GPUS"
      --object-store-memory=$((OBJECT_STORE_MB * 1024 * 1024))
      --disable-usage-stats)
if [[ -n "${NUM_CPUS:-}" ]]; then
  args+=(--num-cpus="$NUM_CPUS")
fi

"$RAY" "${args[@]}" "$@"
echo "start-gpu-worker: joined $HEAD with $NUM_GPUS GPU(s); stop with: ray stop" >&2
