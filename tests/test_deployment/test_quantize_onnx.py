"""tools/deployment/quantize_onnx.py: an int8 file with the fp32 file's contract, Q/DQ around the
convolutions and none in the post-processing. Its mAP against the fp32 file is checked on the trained
demo model (tests/test_tools/test_test_and_demo.py)."""
from pathlib import Path

import onnx
import onnxruntime
import pytest
from detector_fixtures import run_script, write_quarter_width_demo

from ssd_npu.deployment.quantize import network_nodes

# Trained one epoch from scratch on 32 images.
ONE_EPOCH = '''
    max_epochs = 1
    train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
    param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
                       dict(type='CosineAnnealingLR', T_max=max_epochs, begin=0, end=max_epochs,
                            by_epoch=True)]
    default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=max_epochs))
'''


@pytest.fixture(scope='module')
def quantized(tmp_path_factory):
    """(config, fp32 file, int8 file, folder) of a tiny demo model trained one epoch."""
    folder = tmp_path_factory.mktemp('quantize')
    config = write_quarter_width_demo(folder, dict(num_train=32, num_val=8, width=160, height=160),
                                      ONE_EPOCH)
    run_script(['tools/train.py', str(config), '--work-dir', str(folder / 'train')])
    fp32, int8 = folder / 'tiny.onnx', folder / 'tiny_int8.onnx'
    checkpoint = folder / 'train' / 'epoch_1.pth'
    run_script(['tools/deployment/export_onnx.py', str(config), str(checkpoint), '--out', str(fp32)])
    result = run_script(['tools/deployment/quantize_onnx.py', str(config), str(fp32), '--out', str(int8),
                  '--calib-images', '8'])
    assert 'wrote' in result.stdout
    return config, fp32, int8, folder


def _signature(path: Path) -> tuple:
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return ([(i.name, i.type, i.shape) for i in session.get_inputs()],
            [(o.name, o.type, o.shape) for o in session.get_outputs()])


@pytest.mark.slow
def test_the_int8_file_keeps_the_contract_and_quantizes_only_the_network(quantized):
    _, fp32, int8, _ = quantized
    assert _signature(int8) == _signature(fp32)
    fp32_model, int8_model = onnx.load(str(fp32)), onnx.load(str(int8))
    fp32_meta = {p.key: p.value for p in fp32_model.metadata_props}
    int8_meta = {p.key: p.value for p in int8_model.metadata_props}
    assert {key: int8_meta[key] for key in fp32_meta} == fp32_meta
    assert 'int8' in int8_meta['quantization']
    nodes = int8_model.graph.node
    producer = {output: node for node in nodes for output in node.output}
    convs = [node for node in nodes if node.op_type == 'Conv']
    assert convs and all(producer[node.input[0]].op_type == 'DequantizeLinear' for node in convs)
    assert all(producer[node.input[1]].op_type == 'DequantizeLinear' for node in convs)
    # Nothing after the network is quantized; NMS reads float boxes and scores.
    # The head's outputs leave its convolutions quantized (QLinearConv) and are dequantized at once.
    network = network_nodes(int8_model)
    head_outputs = {node.name for node in nodes if node.op_type == 'QuantizeLinear'
                    and producer[node.input[0]].op_type == 'Conv'}
    network |= head_outputs | {node.name for node in nodes if node.op_type == 'DequantizeLinear'
                               and node.input[0] in producer and producer[node.input[0]].name in head_outputs}
    post = [node for node in nodes if node.name not in network]
    assert post and not [node for node in post if node.op_type in ('QuantizeLinear', 'DequantizeLinear')]
    (nms,) = [node for node in nodes if node.op_type == 'NonMaxSuppression']
    assert all(producer[name].op_type not in ('DequantizeLinear', 'QuantizeLinear') for name in nms.input[:2])
    assert sum(node.op_type == 'QuantizeLinear' for node in nodes) >= len(convs)


@pytest.mark.slow
def test_mistakes_are_one_line_errors(quantized, tmp_path):
    config, fp32, _, _ = quantized
    other = tmp_path / 'other.onnx'
    graph = onnx.helper.make_graph([onnx.helper.make_node('Relu', ['x'], ['y'])], 'g',
                                   [onnx.helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(other))
    no_data = tmp_path / 'no_data.py'
    no_data.write_text(f"_base_ = ['{config}']\ntest_dataloader = None\nval_dataloader = None\n")
    cases = [((str(config), str(other)), 'not an ssd_npu ONNX export'),
             ((str(config), str(tmp_path / 'missing.onnx')), 'ONNX file not found'),
             ((str(no_data), str(fp32)), 'no test_dataloader or val_dataloader'),
             ((str(config), str(fp32), '--calib-images', '0'), '--calib-images must be >= 1')]
    for args, message in cases:
        result = run_script(['tools/deployment/quantize_onnx.py', *args, '--out', str(tmp_path / 'q.onnx')],
                            check=False)
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith('ERROR')]
        assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
        assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'q.onnx').exists()
