import json
import subprocess
import sys
import textwrap

# A torch that names its privateuse1 backend 'npu' and a torch.npu without native_device: what
# torch_npu 2.x sets up on import (torch_npu/__init__.py renames the backend). Run in a fresh
# process, since a backend is renamed once per process.
PROGRAM = textwrap.dedent("""
    import json, sys, types
    import torch
    torch.utils.rename_privateuse1_backend('npu')
    torch.npu = types.ModuleType('torch.npu')
    from mmengine.model import BaseDataPreprocessor
    import mmcv_patches
    from mmcv_patches import data_preprocessor
    mmcv_patches.apply()
    found = {}
    original = mmcv_patches.ORIGINALS[data_preprocessor.KEY]
    for name, to in (('patched', BaseDataPreprocessor.to), ('mmengine', original)):
        preprocessor = BaseDataPreprocessor()
        try:
            found[name] = [str(to(preprocessor, 'npu:1').device), str(to(preprocessor, device='npu').device)]
        except AttributeError as error:
            found[name] = f'AttributeError: {error}'
    print(json.dumps(found))
""")


def test_data_preprocessor_moves_to_npu_without_native_device():
    found = json.loads(subprocess.run([sys.executable, '-c', PROGRAM], capture_output=True, text=True,
                                      check=True).stdout)
    assert found['patched'] == ['npu:1', 'npu']
    assert 'native_device' in found['mmengine']


def test_cpu_and_dtype_moves_keep_mmengine_behaviour():
    import torch
    from mmengine.model import BaseDataPreprocessor

    import mmcv_patches

    mmcv_patches.apply()
    preprocessor = BaseDataPreprocessor()
    assert preprocessor.to('cpu').device == torch.device('cpu')
    assert preprocessor.to(torch.float16).device == torch.device('cpu')   # a dtype alone keeps the device
