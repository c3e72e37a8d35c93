import torch
import torch.nn as nn
from mmengine.structures import InstanceData

from ssd_npu.models.data_preprocessors import DetDataPreprocessor
from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample

MEAN = [123.675, 116.28, 103.53]


def samples(n: int):
    return [DetDataSample(metainfo=dict(img_shape=(8, 8))) for _ in range(n)]


def test_same_size_batch_is_normalised_rgb_with_shapes_in_metainfo():
    preprocessor = DetDataPreprocessor(mean=MEAN, std=[1, 2, 4], bgr_to_rgb=True)
    images = [torch.randint(0, 256, (3, 6, 10), dtype=torch.uint8) for _ in range(2)]
    out = preprocessor(dict(inputs=images, data_samples=samples(2)))
    expected = (torch.stack(images).flip(1).float() - torch.tensor(MEAN).view(1, 3, 1, 1)) \
        / torch.tensor([1., 2., 4.]).view(1, 3, 1, 1)
    torch.testing.assert_close(out['inputs'], expected)
    for sample in out['data_samples']:
        assert sample.batch_input_shape == (6, 10)
        assert sample.pad_shape == (6, 10)


def test_mixed_sizes_are_padded_to_the_divisor():
    preprocessor = DetDataPreprocessor(mean=MEAN, std=[1, 1, 1], pad_size_divisor=8, pad_value=0)
    images = [torch.zeros(3, 5, 9, dtype=torch.uint8), torch.zeros(3, 12, 4, dtype=torch.uint8)]
    out = preprocessor(dict(inputs=images, data_samples=samples(2)))
    assert out['inputs'].shape == (2, 3, 16, 16)
    assert [s.pad_shape for s in out['data_samples']] == [(8, 16), (16, 8)]
    assert all(s.batch_input_shape == (16, 16) for s in out['data_samples'])
    assert out['inputs'][0, :, 5:, :].abs().sum() == 0, 'padding carries pad_value after normalisation'


def test_batched_tensor_input_matches_list_input():
    preprocessor = DetDataPreprocessor(mean=MEAN, std=[1, 1, 1], bgr_to_rgb=True, pad_size_divisor=4)
    images = torch.randint(0, 256, (2, 3, 7, 7), dtype=torch.uint8)
    from_list = preprocessor(dict(inputs=list(images), data_samples=samples(2)))
    from_tensor = preprocessor(dict(inputs=images, data_samples=samples(2)))
    torch.testing.assert_close(from_list['inputs'], from_tensor['inputs'])
    assert from_tensor['inputs'].shape == (2, 3, 8, 8)
    assert from_tensor['data_samples'][1].pad_shape == (8, 8)


class _Boxes:
    """Stands in for mmdetection's HorizontalBoxes."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __len__(self):
        return len(self.tensor)


def test_box_objects_become_plain_tensors():
    sample = DetDataSample(metainfo=dict(img_shape=(4, 4)))
    boxes = torch.tensor([[0., 0., 2., 2.]])
    sample.gt_instances = InstanceData(bboxes=_Boxes(boxes), labels=torch.tensor([0]))
    out = DetDataPreprocessor()(dict(inputs=[torch.zeros(3, 4, 4, dtype=torch.uint8)], data_samples=[sample]))
    assert torch.equal(out['data_samples'][0].gt_instances.bboxes, boxes)


@MODELS.register_module(name='_AddOneBatchAugmentForTest', force=True)
class _AddOne(nn.Module):
    def forward(self, inputs, data_samples):
        return inputs + 1, data_samples


def test_batch_augments_apply_only_in_training():
    preprocessor = DetDataPreprocessor(batch_augments=[dict(type='_AddOneBatchAugmentForTest')])
    data = dict(inputs=[torch.zeros(3, 2, 2, dtype=torch.uint8)], data_samples=samples(1))
    assert preprocessor(dict(data), training=True)['inputs'].max() == 1
    assert preprocessor(dict(data), training=False)['inputs'].max() == 0


def test_mixed_sizes_normalise_as_mmengine_does():
    """Every path runs DetDataPreprocessor.normalise; images of different sizes give mmengine's numbers."""
    from mmengine.model import ImgDataPreprocessor
    args = dict(mean=MEAN, std=[1, 2, 4], bgr_to_rgb=True, pad_size_divisor=8, pad_value=3)
    images = [torch.randint(0, 256, (3, 5, 9), dtype=torch.uint8), torch.randint(0, 256, (3, 12, 4),
                                                                                 dtype=torch.uint8)]
    ours = DetDataPreprocessor(**args)(dict(inputs=images, data_samples=samples(2)))['inputs']
    expected = ImgDataPreprocessor(**args)(dict(inputs=images))['inputs']
    torch.testing.assert_close(ours, expected)
