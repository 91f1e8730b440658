#!/usr/bin/env bash
# Start the head of a Ray cluster on a workstation or a small on-prem cluster, for seqbench.
#
#   cluster/local/start-head.sh [extra `ray start` options]
#   seqbench-ray submit multiplicativity --spec jobs/multiplicativity.toml --address auto   # on this machine
#
# On a single machine you do not need this: `seqbench-ray submit` without --address starts a
# private Ray (loopback only) with one replica per GPU and stops it at the end. Start Ray yourself
# to add more machines (cluster/local/start-gpu-worker.sh) or to keep one Ray for several jobs.
#
# Settings (environment):
#   NUM_GPUS          GPUs this node offers (default: counted with nvidia-smi; 0 without it).
#                     On a CPU-only head use 0: the replicas then go to the GPU workers.
#   NUM_CPUS          CPUs this node offers (default: all). 0 keeps all work off the head.
#   OBJECT_STORE_MB   Ray object store size (default 4096). Keep it below the free space of /dev/shm.
#   RAY_PORT          GCS port (default 6379); workers join HEAD_IP:RAY_PORT.
#   DASHBOARD_HOST    dashboard / Jobs API address (default 127.0.0.1: reach it with an SSH tunnel).
#
# Security (docs/security.md): token authentication is on (RAY_AUTH_MODE=token). The token is
# ~/.ray/auth_token (created here if missing, mode 600), or RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH.
# Every worker and every client, the seqbench driver included, needs the same token and
# RAY_AUTH_MODE=token. Ray listens on all interfaces so that workers can join: keep the machines
# behind a firewall and never expose the Ray ports (6379, 8265, 10001) to a network you do not
# control. Usage statistics are off (--disable-usage-stats, RAY_USAGE_STATS_ENABLED=0).
set -euo pipefail

RAY=${RAY:-ray}
RAY_PORT=${RAY_PORT:-6379}
OBJECT_STORE_MB=${OBJECT_STORE_MB:-4096}
DASHBOARD_HOST=${DASHBOARD_HOST:-127.0.0.1}
if [[ -z "${NUM_GPUS:-}" ]]; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    NUM_GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  else
    NUM_GPUS=0
  fi
fi

export RAY_USAGE_STATS_ENABLED=0 RAY_USAGE_STATS_PROMPT_ENABLED=0
export RAY_AUTH_MODE=token
if [[ -z "${RAY_AUTH_TOKEN:-}" && -z "${RAY_AUTH_TOKEN_PATH:-}" ]]; then
  token_file="$HOME/.ray/auth_token"
  if [[ ! -s "$token_file" ]]; then
    "$RAY" get-auth-token --generate >/dev/null   # writes a random token; never print it
    echo "start-head: generated a Ray token in $token_file" >&2
  fi
  chmod 600 "$token_file"
fi

shm_free_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}' || true)
if [[ -n "$shm_free_mb" && "$shm_free_mb" -lt "$OBJECT_STORE_MB" ]]; then
  echo "start-head: warning: /dev/shm has ${shm_free_mb} MB free < OBJECT_STORE_MB=${OBJECT_STORE_MB};" \
       "Ray will fall back to slower disk storage" >&2
fi

args=(start --head
      --port="$RAY_PORT"
      --num-gpus="$NUM_GPUS"
      --object-store-memory=$((OBJECT_STORE_MB * 1024 * 1024))
      --dashboard-host="$DASHBOARD_HOST"
      --disable-usage-stats)
if [[ -n "${NUM_CPUS:-}" ]]; then
  args+=(--num-cpus="$NUM_CPUS")
fi

"$RAY" "${args[@]}" "$@"

cat >&2 <<EOF

start-head: Ray head up (GPUs: $NUM_GPUS, object store: $OBJECT_STORE_MB MB, token auth on).
  workers:   copy the token to each worker (~/.ray/auth_token, mode 600), then there:
             cluster/local/start-gpu-worker.sh <this host's address>:$RAY_PORT
  seqbench:  RAY_AUTH_MODE=token seqbench-ray submit EXPERIMENT --spec FILE --address auto   (on this machine)
  stop:      ray stop   (on every node)
EOF
