"""Install ``ssd_npu`` and ``mmcv_patches``; dependencies come from requirements/."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


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
    packages=find_packages(include=['ssd_npu', 'ssd_npu.*', 'mmcv_patches', 'mmcv_patches.*']),
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'optional': read_requirements('optional.txt'),
        'npu': read_requirements('npu.txt'),
        'export': read_requirements('export.txt'),
    },
)
