# Sourced by run_1p.sh, run_8p.sh and tools/dist_*.sh: picks the device and prepares its environment.
# Sets DEVICE (npu | cuda | cpu; override with SSD_NPU_DEVICE) and PYTHON.
PYTHON=${PYTHON:-python}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# On Ascend hosts the CANN toolkit must be on the environment before torch_npu is imported.
if [ -z "${SSD_NPU_DEVICE:-}" ] || [ "${SSD_NPU_DEVICE}" = "npu" ]; then
    for cann_env in "${ASCEND_TOOLKIT_HOME:-/usr/local/Ascend/ascend-toolkit}/set_env.sh" \
                    /usr/local/Ascend/ascend-toolkit/latest/set_env.sh; do
        if [ -f "$cann_env" ]; then
            # shellcheck disable=SC1090
            source "$cann_env"
            break
        fi
    done
fi

DEVICE=$("$PYTHON" -c 'from ssd_npu.utils.device import get_device; print(get_device())') || {
    echo "ERROR: cannot import ssd_npu; install it first: pip install -e ." >&2
    exit 1
}
export SSD_NPU_DEVICE=$DEVICE

if [ "$DEVICE" = "npu" ]; then
    # The settings the old product used on Ascend: asynchronous task queue, fast copies, and
    # HCCL without an IP whitelist.
    export TASK_QUEUE_ENABLE=${TASK_QUEUE_ENABLE:-1}
    export PTCOPY_ENABLE=${PTCOPY_ENABLE:-1}
    export HCCL_WHITELIST_DISABLE=${HCCL_WHITELIST_DISABLE:-1}
fi

# The run scripts' arguments: CONFIG is the first *.py argument (default configs/ssd300_coco.py, the
# old product's default), TRAIN_ARGS the others for tools/train.py; the Ascend ModelZoo's
# --data_path=DIR (or --data_path DIR), in any position, becomes --data-root DIR.
parse_run_args() {
    CONFIG=""
    TRAIN_ARGS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --data_path=*) TRAIN_ARGS+=(--data-root "${1#--data_path=}") ;;
            --data_path) TRAIN_ARGS+=(--data-root "${2:?--data_path needs a folder}"); shift ;;
            -*) TRAIN_ARGS+=("$1") ;;
            *.py) if [ -z "$CONFIG" ]; then CONFIG=$1; else TRAIN_ARGS+=("$1"); fi ;;
            *) TRAIN_ARGS+=("$1") ;;
        esac
        shift
    done
    CONFIG=${CONFIG:-configs/ssd300_coco.py}
}
