#!/usr/bin/env bash
# Train on NPROC devices (default 8) of this machine, or on several machines:
#   bash run_8p.sh [CONFIG] [tools/train.py options]
#   NPROC=2 bash run_8p.sh configs/synthetic_demo.py          # 2 processes (gloo on CPU)
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash run_8p.sh  # then NODE_RANK=1 on the second machine
#   MAX_RESTARTS=3 bash run_8p.sh ...   # torchrun restarts a failed group; it resumes from the newest checkpoint
# Default config: configs/ssd300_coco.py on data/coco. The Ascend ModelZoo's --data_path=DIR is
# accepted in any position (= --data-root DIR). The log goes to WORK_DIR (default work_dirs/<config name>);
# it ends with the old port's summary lines (tools/misc/run_summary.py): Final Performance images/sec,
# E2E Training Duration sec and, after a validation, Final Train Accuracy.
set -euo pipefail
cd "$(dirname "$0")"
source tools/launch_env.sh
parse_run_args "$@"
WORK_DIR=${WORK_DIR:-work_dirs/$(basename "$CONFIG" .py)}
mkdir -p "$WORK_DIR"
# One log per machine: machines that share the work dir start in the same second.
LOG="$WORK_DIR/run_8p_$(date +%Y%m%d_%H%M%S)${NNODES:+_node${NODE_RANK:-0}}.log"
NPROC=${NPROC:-8}
echo "device: $DEVICE, processes per machine: $NPROC, machines: ${NNODES:-1} (this one: ${NODE_RANK:-0}), restarts allowed: ${MAX_RESTARTS:-0}, config: $CONFIG, log: $LOG"
START=$(date +%s)
"$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
    --nproc_per_node="$NPROC" --max-restarts="${MAX_RESTARTS:-0}" \
    tools/train.py "$CONFIG" --launcher pytorch --work-dir "$WORK_DIR" ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"} 2>&1 | tee "$LOG"
"$PYTHON" tools/misc/run_summary.py "$WORK_DIR" --duration $(($(date +%s) - START)) | tee -a "$LOG"
