"""The exported ONNX file: the issue's contract, and onnxruntime's detections equal ``SSD.predict``'s.

One export per model (dynamic batch), shared by the tests of this file: SSD300 at its real size,
SSD512 and SSDLite (full widths) at 320x320 inputs to keep the runs short on a CPU; and SSD300
with torchvision's post-processing (batch 1).
"""
import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from detector_fixtures import assert_same_detections, random_detector, torch_detections
from mmengine.structures import InstanceData

from ssd_npu.deployment import ONNXDetector, export_onnx

MODELS = {'ssd300': ('ssd300_coco.py', 300), 'ssd512': ('ssd512_coco.py', 320),
          'ssdlite': ('ssdlite_mobilenetv2_coco.py', 320)}


def onnx_detections(outputs) -> list:
    boxes, scores, labels, num_dets = outputs
    return [InstanceData(bboxes=torch.from_numpy(b[:n]), scores=torch.from_numpy(s[:n]),
                         labels=torch.from_numpy(lab[:n]))
            for b, s, lab, n in zip(boxes, scores, labels, num_dets)]


@pytest.fixture(scope='module', params=list(MODELS))
def exported(request, tmp_path_factory):
    """(model, images [4, 3, S, S], ONNX file): the score threshold is set between the images' best
    scores so that images 0 and 1 have detections and images 2 and 3 have none."""
    config, size = MODELS[request.param]
    model = random_detector(config, size)
    model.dataset_meta = {'classes': [f'class {i}' for i in range(model.bbox_head.num_classes)]}
    images = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(1)) * 255
    model.bbox_head.test_cfg['score_thr'] = 0
    best = torch.stack([pred.scores[0] for pred in torch_detections(model, images)])
    order = best.argsort(descending=True)
    images = images[order]
    model.bbox_head.test_cfg['score_thr'] = float(best[order[1]] + best[order[2]]) / 2
    path = export_onnx(model, tmp_path_factory.mktemp('onnx') / f'{request.param}.onnx',
                       input_size=(size, size), dynamic_batch=True)
    return model, images, path


def test_the_file_passes_the_checker_and_has_the_contract_of_the_issue(exported):
    model, images, path = exported
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    assert any(node.op_type == 'NonMaxSuppression' for node in proto.graph.node)
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    size = images.shape[-1]
    (images_input,) = session.get_inputs()
    assert (images_input.name, images_input.type) == ('images', 'tensor(float)')
    assert images_input.shape[1:] == [3, size, size] and isinstance(images_input.shape[0], str)
    k = model.bbox_head.test_cfg['max_per_img']
    outputs = {o.name: (o.type, o.shape[1:]) for o in session.get_outputs()}
    assert outputs == {'boxes': ('tensor(float)', [k, 4]), 'scores': ('tensor(float)', [k]),
                       'labels': ('tensor(int64)', [k]), 'num_dets': ('tensor(int64)', [])}
    metadata = session.get_modelmeta().custom_metadata_map
    assert json.loads(metadata['classes']) == list(model.dataset_meta['classes'])
    assert metadata['input_size'] == f'{size},{size}'


def test_onnxruntime_equals_predict_at_batch_1_and_4_with_and_without_detections(exported):
    model, images, path = exported
    detector = ONNXDetector(path)
    expected = torch_detections(model, images)
    assert [len(pred) > 0 for pred in expected] == [True, True, False, False]
    outputs = detector.run(images.numpy())
    boxes, scores, labels, num_dets = outputs
    assert num_dets.dtype == labels.dtype == np.int64
    for i, actual in enumerate(onnx_detections(outputs)):
        assert_same_detections(expected[i], actual)
        # Rows past num_dets are zeros.
        assert not boxes[i, num_dets[i]:].any() and not scores[i, num_dets[i]:].any()
    for i in (0, 3):
        (single,) = onnx_detections(detector.run(images[i:i + 1].numpy()))
        assert_same_detections(expected[i], single)


def test_one_dynamic_batch_file_runs_batch_1_and_8(exported):
    _, images, path = exported
    detector = ONNXDetector(path)
    batch = torch.cat([images, images.flip(0)]).numpy()
    eight = onnx_detections(detector.run(batch))
    (single,) = onnx_detections(detector.run(images[:1].numpy()))
    assert_same_detections(single, eight[0])
    assert_same_detections(single, eight[7])
    # As for a file of batch 3: runs of 3, 3 and 2 images (padded to 3), the same detections.
    detector.batch_size = 3
    for fed_in_threes, at_once in zip(onnx_detections(detector.run(batch)), eight):
        assert_same_detections(at_once, fed_in_threes)


def test_an_input_of_the_wrong_size_or_channels_names_the_expected_shape(exported):
    _, images, path = exported
    size = images.shape[-1]
    detector = ONNXDetector(path)
    for shape in ((1, 3, size - 32, size), (1, 1, size, size)):
        got = ', '.join(map(str, shape))
        with pytest.raises(ValueError, match=rf'shape \[B, 3, {size}, {size}\].* got \[{got}\]'):
            detector.run(np.zeros(shape, np.float32))
    # onnxruntime itself names the expected dimension for a caller without ssd_npu.
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    with pytest.raises(Exception, match=f'Expected: {size}'):
        session.run(None, {'images': np.zeros((1, 3, size - 32, size), np.float32)})


def test_torchvision_post_processing_exports_with_its_per_class_top_k(tmp_path):
    """configs/ssd300_coco_torchvision.py: every candidate, each class's 400 best (topk_per_class)."""
    model = random_detector('ssd300_coco_torchvision.py', 300)
    assert model.bbox_head.test_cfg['topk_per_class'] == 400
    path = export_onnx(model, tmp_path / 'torchvision.onnx', input_size=(300, 300))
    image = torch.rand(1, 3, 300, 300, generator=torch.Generator().manual_seed(2)) * 255
    (expected,) = torch_detections(model, image)
    (actual,) = onnx_detections(ONNXDetector(path).run(image.numpy()))
    assert len(expected) > 0
    assert_same_detections(expected, actual)
