#!/usr/bin/env bash
# One prepared speed report for a machine with an NVIDIA GPU or an Ascend NPU, in under 8 minutes:
# SSD300 and SSDLite-320 training img/s with AMP (eager, compiled, compiled with CUDA graphs),
# and the data pipeline's img/s with this machine's cores. Writes one JSON file.
#
#   bash tools/benchmarks/accelerator_report.sh [OUT.json]      (default: accelerator_report.json)
#
# Each measurement has its own time limit, so a slow compile costs one row, not the report.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-accelerator_report.json}
DEVICE=$(python -c "from ssd_npu.utils.device import get_device; print(get_device())")
ROWS=$(mktemp)
trap 'rm -f "$ROWS"' EXIT

measure() {   # LIMIT_S NAME ARGS...: one JSON row (or an error row) into $ROWS
    local limit=$1 name=$2; shift 2
    local line
    line=$(timeout "$limit" python "$@" --json 2>/tmp/accelerator_report_err.txt | tail -n 1)
    if [[ "$line" == \{* ]]; then
        echo "{\"name\": \"$name\", \"result\": $line}" >>"$ROWS"
    else
        echo "{\"name\": \"$name\", \"error\": \"failed or timed out after ${limit}s\"}" >>"$ROWS"
    fi
}

TRAIN=tools/benchmarks/benchmark_train.py
for model in ssd300_coco:32 ssdlite_mobilenetv2_coco:96; do
    config=configs/${model%%:*}.py batch=${model##*:}
    common=("$TRAIN" "$config" --device "$DEVICE" --amp --batch-size "$batch" --iters 10 --warmup 3
            --cfg-options model.backbone.init_cfg=None)
    measure 40 "${model%%:*} AMP eager" "${common[@]}"
    measure 85 "${model%%:*} AMP compiled" "${common[@]}" --compile
    if [[ "$DEVICE" == cuda ]]; then
        measure 85 "${model%%:*} AMP compiled + CUDA graphs" "${common[@]}" --compile \
            --compile-mode reduce-overhead
    fi
done
measure 40 "data pipeline, $(nproc) workers" tools/benchmarks/benchmark_pipeline.py --workers "$(nproc)"

python - "$ROWS" "$OUT" "$DEVICE" <<'PY'
import json, platform, subprocess, sys
import torch
rows, out, device = sys.argv[1:]
name = torch.cuda.get_device_name(0) if device == 'cuda' else device
report = dict(machine=name, host=platform.node(), cpu_cores=torch.get_num_threads(), torch=torch.__version__,
              rows=[json.loads(line) for line in open(rows)])
json.dump(report, open(out, 'w'), indent=1)
print(json.dumps(report, indent=1))
PY
