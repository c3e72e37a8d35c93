"""tools/npu_check.sh and tools/misc/npu_check.py: the Ascend first-hour check, end to end on CPU, and its
logic.

The end-to-end test runs the real script on ``--device cpu`` with the tiny demo config (4 iterations
per run, the compiled run traced by ``aot_eager``: Inductor's CPU code generation alone takes minutes
on a 2-core machine). The other tests drive the pure logic with sample logs, scalars, fake CANN trees
and fake step commands, and the script on a host whose torch_npu cannot load.
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('npu_check', REPO / 'tools' / 'misc' / 'npu_check.py')
npu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(npu_check)

STEP_NAMES = ['launch_env', 'train_1dev_amp_eager', 'train_1dev_amp_compiled', 'train_2dev',
              'first_loss_vs_cpu', 'loss_scale_moves', 'cpu_fallback_ops', 'throughput']
# Variables of a host's own Ascend install or of the product's launch; script tests start without them.
_HOST_VARIABLES = ('ASCEND_TOOLKIT_HOME', 'ASCEND_HOME_PATH', 'SSD_NPU_DEVICE',
                   'TORCH_DEVICE_BACKEND_AUTOLOAD', 'LD_LIBRARY_PATH', 'TORCH_LOGS')


def _script_env(tmp_path: Path, **extra: str) -> dict:
    env = {name: value for name, value in os.environ.items()
           if name not in _HOST_VARIABLES and not name.startswith('SSD_NPU_CHECK_')}
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS='1', HOME=str(tmp_path / 'home'),
               SSD_NPU_CANN_PREFIX=str(tmp_path / 'usr_local_Ascend'),
               SSD_NPU_CANN_INSTALL_INFO=str(tmp_path / 'ascend_cann_install.info'), **extra)
    return env


@pytest.mark.slow
def test_the_check_runs_every_step_on_cpu_and_writes_one_report(tmp_path, make_tiny_config, hang_limit_s):
    out = tmp_path / 'report' / 'npu_check.json'
    command = ['bash', 'tools/npu_check.sh', '--device', 'cpu', '--iters', '4',
               '--config', str(make_tiny_config()),
               '--work-dir', str(tmp_path / 'runs'), '--out', str(out), '--compile-backend', 'aot_eager',
               '--step-timeout', str(hang_limit_s // 4)]
    env = _script_env(tmp_path, PYTHONPATH=str(REPO))
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=hang_limit_s)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert f'npu_check report (send this file with a bug report): {out}' in done.stdout
    assert 'chip: ' in done.stdout and 'CANN: not found' in done.stdout and 'torch: ' in done.stdout

    report = json.loads(out.read_text())
    assert report['schema'] == npu_check.SCHEMA and report['finished'] and report['ok']
    facts = report['facts']
    assert facts['device'] == 'cpu' and facts['device_count'] == 1 and facts['chip']
    assert facts['torch'] and 'torch_npu' in facts and 'torch_error' not in facts
    assert facts['cann']['version'] is None and 'driver' in facts and facts['ssd_npu']['commit']
    assert report['settings']['iters'] == 4 and report['settings']['amp_dtype'] == 'bfloat16'

    steps = {step['name']: step for step in report['steps']}
    assert list(steps) == STEP_NAMES
    for step in steps.values():
        assert set(step) >= {'name', 'what', 'status', 'seconds', 'details', 'log_tail'}
        assert step['seconds'] >= 0 and step['log_tail'] is None  # a tail only for failed steps
    assert {name: step['status'] for name, step in steps.items()} == {
        **{name: 'pass' for name in STEP_NAMES}, 'train_2dev': 'skipped'}
    assert steps['train_2dev']['details']['reason'] == 'needs 2 devices, 1 visible on cpu'
    assert report['summary'] == {'pass': [n for n in STEP_NAMES if n != 'train_2dev'], 'fail': [],
                                 'skipped': ['train_2dev']}

    eager, compiled = steps['train_1dev_amp_eager']['details'], steps['train_1dev_amp_compiled']['details']
    for run in (eager, compiled):
        assert run['exit_status'] == 0 and run['iterations_logged'] == 4 and run['losses_finite']
        assert run['amp_dtype'] == 'bfloat16' and run['img_per_s'] > 0 and run['world_size'] == 1
    # The compiled step really compiled, as one graph, and started from the eager run's first loss.
    assert "{'backend': 'aot_eager'}" in compiled['compile_log_line'] and compiled['graph_breaks'] == 0
    assert compiled['first_loss_rel_diff_vs_eager'] < 1e-3

    first = steps['first_loss_vs_cpu']['details']
    assert first['device'] == 'cpu' and first['amp_dtype'] == 'bfloat16'
    amp, fp32 = first['comparisons']
    assert all(math.isfinite(check['value']) and check['within'] for check in (amp, fp32))
    assert fp32['abs_diff'] == 0  # the same batch twice through float32 on the same CPU
    assert 0 < amp['rel_diff'] <= npu_check.LOSS_RTOL['bfloat16']  # bf16 autocast really ran

    scale = steps['loss_scale_moves']['details']
    assert scale['run'] == 'train_1dev_amp_eager' and len(scale['values']) == 4 and scale['increases'] >= 1
    assert steps['cpu_fallback_ops']['details']['ops'] == []
    assert set(steps['cpu_fallback_ops']['details']['logs_read']) == {
        'train_1dev_amp_eager', 'train_1dev_amp_compiled', 'first_loss_vs_cpu'}
    speeds = steps['throughput']['details']['runs']
    assert set(speeds) == {'train_1dev_amp_eager', 'train_1dev_amp_compiled'}
    assert all(speed['img_per_s'] > 0 for speed in speeds.values())


def _fake_cann(prefix: Path) -> Path:
    """A CANN install as the toolkit installer lays it out, with its version files and the driver's."""
    toolkit = prefix / 'ascend-toolkit'
    (toolkit / 'latest' / 'x86_64-linux').mkdir(parents=True)
    (toolkit / 'set_env.sh').write_text(f'export ASCEND_HOME_PATH={toolkit / "latest"}\n'
                                        'export LD_LIBRARY_PATH=/fake/lib64:$LD_LIBRARY_PATH\n')
    (toolkit / 'latest' / 'x86_64-linux' / 'ascend_toolkit_install.info').write_text(
        'package_name=Ascend-cann-toolkit\nversion=8.0.RC3\ninnerversion=V100R001C19SPC001B101\narch=x86_64\n')
    (toolkit / 'latest' / 'runtime').mkdir()
    (toolkit / 'latest' / 'runtime' / 'version.info').write_text('Version=7.5.0.1.129\n')
    (prefix / 'driver').mkdir(parents=True)
    (prefix / 'driver' / 'version.info').write_text('Version=24.1.rc3\n')
    return toolkit / 'set_env.sh'


def test_a_host_whose_torch_npu_cannot_load_still_gets_its_report(tmp_path, broken_torch_npu):
    set_env = _fake_cann(tmp_path / 'usr_local_Ascend')
    out = tmp_path / 'report.json'
    env = _script_env(tmp_path, PYTHONPATH=str(broken_torch_npu))
    command = ['bash', 'tools/npu_check.sh', '--out', str(out), '--work-dir', str(tmp_path / 'runs')]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "torch_npu cannot load although CANN's" in done.stderr  # launch_env.sh's own message, passed on
    assert 'CANN: 8.0.RC3' in done.stdout and 'driver: 24.1.rc3' in done.stdout

    report = json.loads(out.read_text())
    assert report['finished'] and not report['ok']
    facts = report['facts']
    assert 'Failed to load the backend extension: torch_npu' in facts['torch_error']
    assert facts['cann']['version'] == '8.0.RC3' and facts['cann']['set_env'] == str(set_env)
    assert facts['cann']['components'] == {'runtime': '7.5.0.1.129'}
    driver = tmp_path / 'usr_local_Ascend' / 'driver' / 'version.info'
    assert facts['driver'] == {'version': '24.1.rc3', 'source': str(driver)}
    steps = {step['name']: step for step in report['steps']}
    assert list(steps) == STEP_NAMES
    assert steps['launch_env']['status'] == 'fail'
    assert any('ImportError: libhccl.so' in line for line in steps['launch_env']['details']['messages'])
    assert all(step['status'] == 'skipped' for name, step in steps.items() if name != 'launch_env')
    assert 'libhccl.so' in steps['train_1dev_amp_eager']['details']['reason']


# ---- the logic ------------------------------------------------------------------------------------

_NONZERO = ("[W compiler_depend.ts:51] Warning: CAUTION: The operator 'aten::nonzero' is not currently "
            'supported on the NPU backend and will fall back to run on the CPU. This may have performance '
            'implications. (function npu_cpu_fallback)')
# torch_npu's wordings (torch-npu 2.6 and 2.14), between a run's own lines that mention the CPU.
SAMPLE_NPU_LOG = '\n'.join([
    '12/03 10:00:01 - mmengine - INFO - device: npu, config: configs/synthetic_demo.py',
    _NONZERO,
    '/site-packages/torch/nn/functional.py:12: UserWarning: CAUTION: The operator aten::logit, aten::logit_ '
    'and aten::logit.out is currently not supported on the NPU backend. Now this operator will fallback to '
    'run on the CPU and may have performance implications. (Triggered internally at x.cpp:10.)',
    'CPU fallback is allowed because TORCH_NPU_FALLBACK_CPU_DISABLE=0. Since the NPU interface does not '
    "support operator 'aten::_sparse_csr_sum.dim_dtype', the operator will fall back to CPU.",
    _NONZERO,
    '12/03 10:00:09 - mmengine - INFO - Epoch(train) [1][1/50]  lr: 3e-05  loss: 8.58  img_per_s: 120.0',
    '12/03 10:00:09 - mmengine - INFO - the data pipeline runs on the CPU, 16 workers',
    'Warning: an unsupported kernel will fall back to run on the CPU',
])


def test_cpu_fallback_ops_are_read_from_torch_npu_warnings():
    found = npu_check.cpu_fallback_ops(SAMPLE_NPU_LOG)
    assert found['ops'] == ['aten::_sparse_csr_sum.dim_dtype', 'aten::logit', 'aten::logit.out',
                            'aten::logit_', 'aten::nonzero']
    assert len(found['lines']) == 4  # the repeated warning once; the training lines never
    assert found['unnamed'] == 1  # the last warning names no operator
    assert npu_check.cpu_fallback_ops('Epoch(train) [1][1/4] loss: 8.5\ndevice: cpu\n') == {
        'ops': [], 'lines': [], 'unnamed': 0}


def _first_losses(cpu: float, device_fp32: float, device_amp: float, device: str = 'npu',
                  dtype: str = 'float16') -> dict:
    def losses(value: float) -> dict:
        return {'loss': value, 'loss_cls': value / 2, 'loss_bbox': value / 2, 'grad_norm': 3.0}
    return {'device': device, 'amp_dtype': dtype, 'cpu_float32': losses(cpu),
            'device_float32': losses(device_fp32), 'device_amp': losses(device_amp), 'batch': {'images': 16}}


def test_first_loss_tolerance_suits_the_precision():
    status, details = npu_check.compare_first_losses(_first_losses(8.0, 8.001, 8.07))
    assert status == 'pass' and [check['within'] for check in details['comparisons']] == [True, True]
    assert details['comparisons'][0]['what'] == 'npu autocast float16 vs cpu float32'
    assert details['comparisons'][0]['rel_diff'] == pytest.approx(0.07 / 8)
    # 1.5 % off is beyond fp16's 1 %, within bf16's 2 %; float32 on the device is held to 0.1 %.
    assert npu_check.compare_first_losses(_first_losses(8.0, 8.0, 8.12))[0] == 'fail'
    assert npu_check.compare_first_losses(_first_losses(8.0, 8.0, 8.12, 'cpu', 'bfloat16'))[0] == 'pass'
    assert npu_check.compare_first_losses(_first_losses(8.0, 8.02, 8.0))[0] == 'fail'
    for bad in (math.nan, math.inf):
        status, details = npu_check.compare_first_losses(_first_losses(8.0, 8.0, bad))
        assert status == 'fail' and details['comparisons'][0]['within'] is False
    assert 'note' in npu_check.compare_first_losses(_first_losses(8.0, 8.0, 8.0, 'cpu', 'bfloat16'))[1]


def test_loss_scale_verdict():
    verdict = npu_check.loss_scale_verdict
    status, details = verdict([65536.0, 32768.0, 32768.0, 65536.0], growth_interval=2)
    assert status == 'pass' and (details['increases'], details['decreases']) == (1, 1)
    assert verdict([65536.0, 131072.0], 2)[0] == 'pass'
    assert verdict([65536.0] * 10, 2)[0] == 'fail'  # a scaler that never moves
    assert verdict([65536.0, 32768.0, 16384.0, 8192.0], 2)[0] == 'fail'  # every step overflowed
    assert verdict([65536.0, math.inf], 2)[0] == 'fail'
    assert 'not an AMP run' in verdict([], 2)[1]['reason']


# A command whose child sleeps: ending it must end the child too (its process group).
HANGING_PARENT = ('import subprocess, sys; '
                  'subprocess.run([sys.executable, "-c", "import time; time.sleep(60)"])')


def test_a_failing_step_does_not_stop_the_others(tmp_path):
    def command_step(name: str, code: str, timeout_s: float = 120) -> npu_check.StepOutcome:
        log = tmp_path / f'{name}.log'
        rc, timed_out = npu_check.run_logged([sys.executable, '-c', code], log, dict(os.environ), timeout_s)
        details = {'exit_status': rc, 'timed_out': timed_out}
        return npu_check.StepOutcome('pass' if rc == 0 else 'fail', details, log)

    def raises() -> npu_check.StepOutcome:
        raise ValueError('an unreadable scalars.json')

    start = time.monotonic()
    steps = [
        npu_check.run_step('fails', 'a command that fails',
                           lambda: command_step('fails', 'print("boom: HCCL timeout"); raise SystemExit(3)')),
        npu_check.run_step('raises', 'a step with a bug', raises),
        npu_check.run_step('hangs', 'a command past its time limit',
                           lambda: command_step('hangs', HANGING_PARENT, timeout_s=2)),
        npu_check.run_step('passes', 'a command that passes',
                           lambda: command_step('passes', 'print("fine")')),
    ]
    assert time.monotonic() - start < 40  # the hung command and its child were ended, not waited for
    assert [step.status for step in steps] == ['fail', 'fail', 'fail', 'pass']
    assert steps[0].details['exit_status'] == 3 and 'boom: HCCL timeout' in steps[0].log_tail
    assert 'ValueError: an unreadable scalars.json' in steps[1].log_tail
    assert steps[1].details == {'error': 'ValueError: an unreadable scalars.json'}
    assert steps[2].details['timed_out'] and 'ended after 2 s' in steps[2].log_tail
    assert steps[3].log_tail is None and steps[3].seconds > 0
    assert npu_check.exit_status(steps) == 1 and npu_check.exit_status(steps[3:]) == 0

    report = npu_check.assemble_report({'chip': 'Ascend910B3'}, {'iters': 50}, steps, finished=True)
    path = tmp_path / 'out' / 'report.json'
    npu_check.write_json(path, report)
    read = json.loads(path.read_text())
    assert read['summary'] == {'pass': ['passes'], 'fail': ['fails', 'raises', 'hangs'], 'skipped': []}
    assert read['ok'] is False and read['finished'] is True and read['facts'] == {'chip': 'Ascend910B3'}
    assert [set(step) for step in read['steps']] == [
        {'name', 'what', 'status', 'seconds', 'details', 'log', 'log_tail'}] * 4
    unfinished = npu_check.assemble_report({}, {}, steps[3:], finished=False)
    assert unfinished['ok'] is False and unfinished['summary']['pass'] == ['passes']


def test_cann_versions_from_install_files(tmp_path):
    set_env = _fake_cann(tmp_path / 'Ascend')
    nnae = tmp_path / 'Ascend' / 'nnae' / 'latest'
    nnae.mkdir(parents=True)
    (nnae / 'version.cfg').write_text('# version: 1.0\nruntime_running_version=[7.1.0.3.220:8.0.RC1]\n')
    missing = str(tmp_path / 'Ascend' / 'cann' / 'set_env.sh')
    environ = {'SSD_NPU_CANN_PREFIX': str(tmp_path / 'Ascend')}

    facts = npu_check.cann_facts([str(set_env), missing], str(set_env), environ)
    assert facts['version'] == '8.0.RC3'
    assert facts['source'].endswith('x86_64-linux/ascend_toolkit_install.info')
    assert facts['roots'] == [str(set_env.parent), str(set_env.parent / 'latest')]
    only_nnae = npu_check.cann_facts([str(nnae / 'set_env.sh')], '', environ)
    assert only_nnae['version'] == '8.0.RC1' and only_nnae['source'] == str(nnae / 'version.cfg')
    assert npu_check.driver_facts([Path(root) for root in facts['roots']], environ)['version'] == '24.1.rc3'
    nothing = npu_check.cann_facts([missing], '', {})
    assert nothing['version'] is None and nothing['roots'] == [] and 'note' in nothing
    assert npu_check.driver_facts([], {'SSD_NPU_CANN_PREFIX': str(tmp_path / 'none')})['version'] is None


def test_runs_are_read_from_their_scalars(tmp_path):
    scalars = tmp_path / '20260101_000000' / 'vis_data' / 'scalars.json'
    scalars.parent.mkdir(parents=True)
    records = [dict(loss=8.5 - i / 10, loss_scale=65536.0, time=0.5, img_per_s=img, img_per_s_all=2 * img,
                    memory=1000 + i, epoch=1, iter=i + 1, step=i + 1)
               for i, img in enumerate([1.0, 50.0, 60.0, 70.0, 40.0])]
    scalars.write_text(''.join(json.dumps(record) + '\n' for record in records) + '{"loss": 1')
    (scalars.parent / 'config.py').write_text(
        "optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16')\n"
        "env_cfg = dict(dist_cfg=dict(backend='hccl'))\n")
    read = npu_check.train_records(tmp_path)
    assert [record['iter'] for record in read] == [1, 2, 3, 4, 5]  # the line cut short is skipped
    details = npu_check.run_details(read, 'no compile here', tmp_path)
    assert details['img_per_s'] == 110.0  # the median after the first (warm-up) iteration, all devices
    assert details['img_per_s_last'] == 80.0 and details['world_size'] == 2
    assert details['max_memory_mib'] == 1004
    assert (details['amp_dtype'], details['dist_backend']) == ('float16', 'hccl')
    assert details['iterations_logged'] == 5 and details['first_loss'] == 8.5
    assert 'compile_log_line' not in details
