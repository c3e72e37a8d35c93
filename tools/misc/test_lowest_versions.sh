#!/usr/bin/env bash
# Run the patch-layer and engine tests with the lowest mmengine and mmcv-lite that
# requirements/runtime.txt declares, in a separate venv (torch and the rest from this Python):
#   bash tools/misc/test_lowest_versions.sh [VENV_DIR] [pytest args]
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${1:-/tmp/ssd_npu_lowest_venv}
shift $(( $# > 0 ? 1 : 0 ))
PYTHON=${PYTHON:-python}
lowest() {  # the '>=' bound of a requirement line, e.g. lowest mmengine -> 0.10.4
    sed -n "s/^$1>=\([0-9.]*\).*/\1/p" requirements/runtime.txt
}
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/python" -m pip install -q "mmengine==$(lowest mmengine)" "mmcv-lite==$(lowest mmcv-lite)"
"$VENV/bin/python" -c 'import mmengine, mmcv; print("mmengine", mmengine.__version__, "mmcv-lite", mmcv.__version__)'
PYTHONPATH=$PWD OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$VENV/bin/python" -m pytest -q \
    tests/test_mmcv_patches tests/test_engine "$@"
