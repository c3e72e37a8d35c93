"""tools/launch_env.sh (run_1p.sh, run_8p.sh, tools/dist_*.sh) on fake CANN installs, and the tools' answer
when torch_npu cannot load.

CANN trees are folders in tmp_path holding a set_env.sh; ``SSD_NPU_CANN_PREFIX``,
``SSD_NPU_CANN_INSTALL_INFO`` and ``HOME`` point the search at them instead of /usr/local/Ascend,
/etc/Ascend/ascend_cann_install.info and the user's home. A torch_npu that cannot load is a
``torch.backends`` entry point whose ``_autoload`` raises, as the real wheel's does without CANN.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Variables a host's own CANN or Ascend settings may carry; each test starts without them.
_HOST_VARIABLES = ('ASCEND_TOOLKIT_HOME', 'LD_LIBRARY_PATH', 'TASK_QUEUE_ENABLE', 'PTCOPY_ENABLE',
                   'HCCL_WHITELIST_DISABLE', 'HCCL_CONNECT_TIMEOUT', 'HCCL_EXEC_TIMEOUT', 'SSD_NPU_DEVICE',
                   'SSD_NPU_DIST_TIMEOUT', 'TORCH_DEVICE_BACKEND_AUTOLOAD', 'PYTHONPATH')
RUN_SCRIPT_LIKE = 'set -euo pipefail\nsource tools/launch_env.sh\n'


def _env(tmp_path: Path, **extra: str) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in _HOST_VARIABLES}
    env.update(PYTHON=sys.executable, HOME=str(tmp_path / 'home'), OMP_NUM_THREADS='1',
               SSD_NPU_CANN_PREFIX=str(tmp_path / 'usr_local_Ascend'),
               SSD_NPU_CANN_INSTALL_INFO=str(tmp_path / 'ascend_cann_install.info'))
    env.update(extra)
    return env


def _bash(script: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', '-c', script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


def _set_env_sh(folder: Path, body: str = '') -> Path:
    """A set_env.sh as CANN writes it: prepends to variables without a default for unset ones."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'set_env.sh'
    path.write_text(textwrap.dedent(f'''\
        export LD_LIBRARY_PATH=/fake/cann/lib64:$LD_LIBRARY_PATH
        export CANN_FAKE_SET_ENV={path}
    ''') + body)
    return path


@pytest.mark.parametrize('kind', ['toolkit_home', 'toolkit_home_parent', 'ascend_toolkit', 'cann',
                                  'nnae_latest', 'install_info', 'home'])
def test_cann_set_env_is_sourced_from_where_cann_puts_it(tmp_path, kind):
    extra = {}
    toolkit = tmp_path / 'toolkit' / 'latest'
    if kind == 'toolkit_home':
        expected, extra['ASCEND_TOOLKIT_HOME'] = _set_env_sh(toolkit), str(toolkit)
    elif kind == 'toolkit_home_parent':
        toolkit.mkdir(parents=True)
        expected, extra['ASCEND_TOOLKIT_HOME'] = _set_env_sh(toolkit.parent), str(toolkit)
    elif kind == 'install_info':
        (tmp_path / 'ascend_cann_install.info').write_text(f'Install_Path={tmp_path / "custom"}\n')
        expected = _set_env_sh(tmp_path / 'custom' / 'ascend-toolkit')
    elif kind == 'home':
        expected = _set_env_sh(tmp_path / 'home' / 'Ascend' / 'cann')
    else:
        expected = _set_env_sh(tmp_path / 'usr_local_Ascend' / {
            'ascend_toolkit': 'ascend-toolkit', 'cann': 'cann', 'nnae_latest': 'nnae/latest'}[kind])
    result = _bash(RUN_SCRIPT_LIKE + 'echo "$CANN_FAKE_SET_ENV|$DEVICE"', _env(tmp_path, **extra))
    assert result.returncode == 0, result.stderr
    assert f'CANN environment: sourced {expected}\n' in result.stderr
    assert result.stdout.strip().splitlines()[-1] == f'{expected}|cpu'


def test_cann_locations_are_tried_in_order(tmp_path):
    (tmp_path / 'ascend_cann_install.info').write_text(f'# CANN\nInstall_Path="{tmp_path / "custom"}"\n')
    env = _env(tmp_path, ASCEND_TOOLKIT_HOME=str(tmp_path / 'toolkit' / 'latest'))
    result = _bash(RUN_SCRIPT_LIKE + 'cann_env_candidates', env)
    assert result.returncode == 0, result.stderr
    layout = ['ascend-toolkit', 'ascend-toolkit/latest', 'cann', 'nnae', 'nnae/latest']
    expected = [tmp_path / 'toolkit' / 'latest' / 'set_env.sh', tmp_path / 'toolkit' / 'set_env.sh']
    for prefix in (tmp_path / 'usr_local_Ascend', tmp_path / 'custom', tmp_path / 'home' / 'Ascend'):
        expected += [prefix / folder / 'set_env.sh' for folder in layout]
    assert result.stdout.splitlines() == [str(path) for path in expected]


def test_set_env_that_uses_unset_variables_runs_under_set_u_and_the_options_come_back(tmp_path):
    # `false` in the middle: CANN's scripts do not expect errexit either
    _set_env_sh(tmp_path / 'usr_local_Ascend' / 'ascend-toolkit', body='false\nexport AFTER_FALSE=1\n')
    check = ('echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH AFTER_FALSE=$AFTER_FALSE"\n'
             '[[ $- == *e* && $- == *u* ]] && shopt -qo pipefail && echo "options restored"\n'
             'echo "$NEVER_SET"\necho "not reached"\n')
    result = _bash(RUN_SCRIPT_LIKE + check, _env(tmp_path))
    assert 'LD_LIBRARY_PATH=/fake/cann/lib64: AFTER_FALSE=1' in result.stdout
    assert 'options restored' in result.stdout
    # nounset is on again: the caller's next unset variable stops it
    assert result.returncode != 0 and 'NEVER_SET: unbound variable' in result.stderr
    assert 'not reached' not in result.stdout


def test_torch_npu_that_cannot_load_names_the_files_tried(tmp_path, broken_torch_npu):
    env = _env(tmp_path, PYTHONPATH=str(broken_torch_npu))
    result = _bash(RUN_SCRIPT_LIKE + 'echo "reached $DEVICE"', env)
    assert result.returncode == 1 and 'reached' not in result.stdout
    assert 'CANN environment: no set_env.sh found' in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-2].startswith("ERROR: torch_npu cannot load (source CANN's set_env.sh: none of ")
    assert str(tmp_path / 'usr_local_Ascend' / 'cann' / 'set_env.sh') in lines[-2]
    assert str(tmp_path / 'home' / 'Ascend' / 'ascend-toolkit' / 'set_env.sh') in lines[-2]
    assert lines[-1].strip() == 'ImportError: libhccl.so: cannot open shared object file'


def test_torch_npu_that_cannot_load_after_sourcing_cann_says_so(tmp_path, broken_torch_npu):
    sourced = _set_env_sh(tmp_path / 'usr_local_Ascend' / 'cann')
    result = _bash(RUN_SCRIPT_LIKE, _env(tmp_path, PYTHONPATH=str(broken_torch_npu)))
    assert result.returncode == 1
    assert f"ERROR: torch_npu cannot load although CANN's {sourced} was sourced" in result.stderr


@pytest.mark.parametrize('tool', [['tools/train.py', 'configs/synthetic_demo.py'],
                                  ['tools/test.py', 'configs/synthetic_demo.py', 'model.pth']])
def test_tools_explain_torch_npu_that_cannot_load(tmp_path, broken_torch_npu, tool):
    result = subprocess.run([sys.executable, *tool], cwd=REPO, capture_output=True, text=True, timeout=600,
                            env=_env(tmp_path, PYTHONPATH=f'{broken_torch_npu}{os.pathsep}{REPO}'))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    first, cause = result.stderr.strip().splitlines()
    assert first.startswith("ERROR: torch_npu cannot load (source CANN's set_env.sh first")
    assert 'TORCH_DEVICE_BACKEND_AUTOLOAD=0' in first
    assert cause.strip() == 'ImportError: libhccl.so: cannot open shared object file'


@pytest.fixture
def bare_python(tmp_path) -> str:
    """An interpreter with nothing installed: a virtual environment without system site-packages."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(tmp_path / 'bare')], check=True)
    return str(tmp_path / 'bare' / 'bin' / 'python')


def test_missing_install_is_named_by_the_run_scripts_and_the_tools(tmp_path, bare_python):
    env = _env(tmp_path, PYTHON=bare_python, SSD_NPU_DEVICE='cpu')
    sourced = _bash(RUN_SCRIPT_LIKE + 'echo reached', env)
    assert sourced.returncode == 1 and 'reached' not in sourced.stdout
    lines = sourced.stderr.strip().splitlines()
    assert lines[-2] == 'ERROR: ssd_npu is not installed (pip install -e .)'
    assert lines[-1].strip().startswith('ModuleNotFoundError: No module named')

    tool = subprocess.run([bare_python, 'tools/train.py', 'configs/synthetic_demo.py'], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env={**env, 'PYTHONPATH': str(REPO)})
    assert tool.returncode == 1 and 'Traceback' not in tool.stderr
    assert tool.stderr.startswith('ERROR: ssd_npu is not installed (pip install -e .)')


def test_a_device_the_host_lacks_is_named_not_taken_for_a_missing_install(tmp_path):
    result = _bash(RUN_SCRIPT_LIKE, _env(tmp_path, SSD_NPU_DEVICE='npu'))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ERROR: the environment variable SSD_NPU_DEVICE asks for 'npu', but no npu device is available "
        'on this host')


def test_npu_environment_defaults_and_the_users_values(tmp_path):
    show = 'env | grep -E "^(TASK_QUEUE_ENABLE|PTCOPY_ENABLE|HCCL_[A-Z_]+)=" | sort | tr "\\n" " "; echo'
    script = RUN_SCRIPT_LIKE + textwrap.dedent(f'''\
        (npu_environment; {show})
        (export SSD_NPU_DIST_TIMEOUT=90; npu_environment; {show})
        (export SSD_NPU_DIST_TIMEOUT=0.5; npu_environment; {show})
        (export SSD_NPU_DIST_TIMEOUT=100000; npu_environment; {show})
        (export SSD_NPU_DIST_TIMEOUT=600 TASK_QUEUE_ENABLE=1 HCCL_WHITELIST_DISABLE=0 HCCL_EXEC_TIMEOUT=0
         npu_environment; {show})
    ''')
    result = _bash(script, _env(tmp_path, SSD_NPU_DEVICE='cpu'))
    assert result.returncode == 0, result.stderr
    default, short, fraction, long, user = result.stdout.strip().splitlines()[-5:]
    # 1800 s (SSD_NPU_DIST_TIMEOUT's default) gives torch_npu's own pair; no PTCOPY_ENABLE (dead variable)
    assert default.split() == ['HCCL_CONNECT_TIMEOUT=1800', 'HCCL_EXEC_TIMEOUT=1836',
                               'HCCL_WHITELIST_DISABLE=1', 'TASK_QUEUE_ENABLE=2']
    # clamped into CANN's ranges: connect [120, 7200]; exec a multiple of 68 in [68, 17340]
    assert short.split()[:2] == ['HCCL_CONNECT_TIMEOUT=120', 'HCCL_EXEC_TIMEOUT=136']
    assert fraction.split()[:2] == ['HCCL_CONNECT_TIMEOUT=120', 'HCCL_EXEC_TIMEOUT=68']
    assert long.split()[:2] == ['HCCL_CONNECT_TIMEOUT=7200', 'HCCL_EXEC_TIMEOUT=17340']
    assert user.split() == ['HCCL_CONNECT_TIMEOUT=600', 'HCCL_EXEC_TIMEOUT=0', 'HCCL_WHITELIST_DISABLE=0',
                            'TASK_QUEUE_ENABLE=1']
