"""The NMS step of the exported graph equals the static greedy NMS of ``SSD.predict``."""
import numpy as np
import onnxruntime
import torch

from ssd_npu.deployment.onnx_nms import ONNX_TRANSLATIONS, class_nms_keep
from ssd_npu.models.layers import greedy_nms_keep


def crowded_candidates(num_images: int, num: int, num_classes: int, seed: int):
    """Boxes sorted by descending score, many overlapping, some candidates masked out."""
    generator = torch.Generator().manual_seed(seed)
    xy = torch.rand(num_images, num, 2, generator=generator) * 60
    boxes = torch.cat([xy, xy + 5 + torch.rand(num_images, num, 2, generator=generator) * 40], dim=-1)
    scores = torch.rand(num_images, num, generator=generator).sort(dim=1, descending=True).values
    labels = torch.randint(0, num_classes, (num_images, num), generator=generator)
    valid = torch.rand(num_images, num, generator=generator) > 0.2
    return boxes, scores, labels, valid


def test_class_nms_keeps_what_greedy_nms_keeps():
    boxes, scores, labels, valid = crowded_candidates(3, 300, 4, seed=0)
    expected, converged = greedy_nms_keep(boxes, labels, valid, 0.45, iterations=300)
    assert converged.all()
    keep, exact = class_nms_keep(boxes, scores, labels, valid, 0.45, num_classes=4)
    assert exact.all()
    assert torch.equal(keep, expected)
    assert 0 < int(keep.sum()) < int(valid.sum()), 'the candidates overlap: NMS removes some'


class NmsGraph(torch.nn.Module):
    def forward(self, boxes, scores, labels, valid):
        return class_nms_keep(boxes, scores, labels, valid, 0.45, num_classes=4)[0]


def test_exported_nms_step_runs_nonmaxsuppression_with_the_same_result(tmp_path):
    inputs = crowded_candidates(2, 200, 4, seed=1)
    batch = torch.export.Dim('batch', min=1, max=64)
    program = torch.onnx.export(NmsGraph().eval(), inputs, dynamo=True, input_names=['b', 's', 'l', 'v'],
                                dynamic_shapes=tuple({0: batch} for _ in inputs),
                                custom_translation_table=ONNX_TRANSLATIONS, verbose=False)
    program.save(str(tmp_path / 'nms.onnx'))
    assert 'NonMaxSuppression' in {node.op_type for node in program.model_proto.graph.node}
    session = onnxruntime.InferenceSession(str(tmp_path / 'nms.onnx'), providers=['CPUExecutionProvider'])
    for seed, num_images in ((1, 2), (2, 5)):
        boxes, scores, labels, valid = crowded_candidates(num_images, 200, 4, seed)
        feed = dict(b=boxes.numpy(), s=scores.numpy(), l=labels.numpy(), v=valid.numpy())
        (keep,) = session.run(None, feed)
        expected = greedy_nms_keep(boxes, labels, valid, 0.45, iterations=200)[0]
        np.testing.assert_array_equal(keep, expected.numpy())
