"""Install ``ssd_npu``, ``mmcv_patches`` and the ``ssd_npu`` command; dependencies come from requirements/.

The configs ship inside the package as ``ssd_npu/configs`` (package data): in the repository that
folder is a committed link to ``configs/``, which setuptools follows, so a wheel holds the files
themselves. The command's entry point is the top-level package ``ssd_npu_console``, this
repository's ``ssd_npu/cli/console``: importing it runs no ``ssd_npu/__init__.py`` (which imports
torch), so a torch that cannot be imported is explained in one line.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
CONSOLE = 'ssd_npu/cli/console'


def read_requirements(name: str) -> list[str]:
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


setup(
    name='ssd_npu',
    version='0.1.0',
    description='Config-driven SSD detector trainer for Ascend NPU, NVIDIA GPU and CPU',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    # ssd_npu.cli.console is installed once, as ssd_npu_console.
    packages=find_packages(include=['ssd_npu', 'ssd_npu.*', 'mmcv_patches', 'mmcv_patches.*'],
                           exclude=['ssd_npu.cli.console']) + ['ssd_npu_console'],
    package_dir={'ssd_npu_console': CONSOLE},
    package_data={'ssd_npu': ['configs/*.py', 'configs/**/*.py']},
    entry_points={'console_scripts': ['ssd_npu = ssd_npu_console:main']},
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'optional': read_requirements('optional.txt'),
        'npu': read_requirements('npu.txt'),
        'export': read_requirements('export.txt'),
    },
)
