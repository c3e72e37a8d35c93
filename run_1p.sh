#!/usr/bin/env bash
# Train on one device: bash run_1p.sh [CONFIG] [tools/train.py options]
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
LOG="$WORK_DIR/run_1p_$(date +%Y%m%d_%H%M%S).log"
echo "device: $DEVICE, config: $CONFIG, log: $LOG"
START=$(date +%s)
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"} 2>&1 | tee "$LOG"
"$PYTHON" tools/misc/run_summary.py "$WORK_DIR" --duration $(($(date +%s) - START)) | tee -a "$LOG"
