"""Each model base config builds, initialises, trains a step and predicts."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from repo_paths import CONFIGS_DIR
from torch.func import functional_call

from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample

CONFIGS = CONFIGS_DIR / '_base_' / 'models'


def build(name: str):
    register_all_modules()
    cfg = Config.fromfile(str(CONFIGS / f'{name}.py'))
    cfg.model.backbone.init_cfg = None  # no ImageNet download in tests
    return MODELS.build(cfg.model)


def batch(size: int, num_images: int):
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(num_images)]
    samples = []
    for i in range(num_images):
        # The original image was about 2x taller and 1.5x wider than the network input.
        ori_h, ori_w = 2 * size, 3 * size // 2
        sample = DetDataSample(metainfo=dict(img_id=i, img_shape=(size, size), ori_shape=(ori_h, ori_w),
                                             scale_factor=(size / ori_w, size / ori_h)))
        boxes = torch.tensor([[0.1, 0.2, 0.5, 0.6], [0.4, 0.3, 0.9, 0.95]]) * size
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor([0, 79]))
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


@pytest.mark.parametrize('name, size, level_sizes, num_anchors', [
    ('ssd300', 300, [38, 19, 10, 5, 3, 1], 8732),
    ('ssd512', 512, [64, 32, 16, 8, 4, 2, 1], 24564),
    ('ssdlite_mobilenetv2', 320, [20, 10, 5, 3, 2, 1], 3234),
])
def test_native_input_size_gives_the_published_pyramid(name, size, level_sizes, num_anchors):
    model = build(name)
    # Shapes only: the model runs on the meta device, so even SSD512 costs nothing here.
    meta = {k: v.to('meta') for k, v in model.state_dict(keep_vars=True).items()}
    cls_scores, bbox_preds = functional_call(model, meta, (torch.empty(2, 3, size, size, device='meta'),))
    assert [s.shape[-1] for s in cls_scores] == level_sizes
    anchors = model.bbox_head.prior_generator.num_base_priors
    assert sum(a * n * n for a, n in zip(anchors, level_sizes)) == num_anchors
    assert [s.shape[1] for s in cls_scores] == [a * 81 for a in anchors]
    assert [b.shape[1] for b in bbox_preds] == [a * 4 for a in anchors]


def test_init_weights_applies_every_init_cfg():
    model = build('ssdlite_mobilenetv2')
    model.init_weights()
    head_std = model.bbox_head.cls_convs[0][-1].weight.std()
    assert 0.0005 < head_std < 0.002, 'head init_cfg Normal(std=0.001)'
    ssd300 = build('ssd300')
    ssd300.init_weights()
    assert torch.equal(ssd300.neck.l2_norm.weight.detach(), torch.full((512,), 20.))


def train_step_and_predict(model, data):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    before = model.backbone.state_dict()[next(iter(model.backbone.state_dict()))].clone()
    processed = model.data_preprocessor(data, True)
    losses = model(**processed, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    loss, log_vars = model.parse_losses(losses)
    assert all(math.isfinite(log_vars[key].item()) and log_vars[key] > 0 for key in ('loss_cls', 'loss_bbox'))
    loss.backward()
    optimizer.step()
    after = model.backbone.state_dict()[next(iter(model.backbone.state_dict()))]
    assert not torch.equal(before, after), 'the SGD step updates the backbone'

    model.eval()
    with torch.no_grad():
        results = model.test_step(data)
    for i, sample in enumerate(results):
        pred = sample.pred_instances
        assert sample.img_id == i
        assert len(pred) <= model.test_cfg['max_per_img']
        assert pred.bboxes.shape == (len(pred), 4) and pred.labels.dtype == torch.long
        height, width = sample.ori_shape
        assert (pred.bboxes[:, 0::2] <= width + 1e-3).all() and (pred.bboxes[:, 1::2] <= height + 1e-3).all()
        assert (pred.scores[:-1] >= pred.scores[1:]).all()
    return results


@pytest.mark.slow
def test_ssd300_train_step_and_predict_at_300x300():
    model = build('ssd300')
    results = train_step_and_predict(model, batch(300, 1))
    assert results[0].batch_input_shape == (300, 300)


def test_ssd512_train_step_and_predict_at_reduced_size():
    model = build('ssd512')
    train_step_and_predict(model, batch(model.min_input_size, 1))


def test_ssdlite_train_step_and_predict_at_320():
    torch.manual_seed(0)
    model = build('ssdlite_mobilenetv2')
    train_step_and_predict(model, batch(320, 2))
