#!/usr/bin/env bash
# bash tools/dist_train.sh CONFIG NPROC [tools/train.py options]  (mmdetection's script)
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
source "$(dirname "$0")/launch_env.sh"
"$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-${MASTER_PORT:-29500}}" \
    --nproc_per_node="$NPROC" \
    "$REPO_ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
