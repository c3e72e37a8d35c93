"""Graph mode: the loss and prediction graphs compile as single static graphs and never recompile.

TorchDynamo's verdict (graph breaks, recompilations) does not depend on the
compiler backend, so most checks trace with ``aot_eager`` (Dynamo + AOTAutograd,
eager kernels) or run on the meta device, where SSD300/SSD512 cost nothing.
One test compiles with Inductor, the default backend, and compares the numbers (on torch
releases whose CPU Inductor gets them wrong, it checks that ``--compile`` refuses to start).
"""

import pytest
import torch
import torch._dynamo
from mmengine.config import Config
from mmengine.structures import InstanceData
from repo_paths import CONFIGS_DIR

from ssd_npu.cli.graph_compile import CPU_INDUCTOR_MIN_TORCH, compile_model, torch_release
from ssd_npu.errors import UsageError
from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample

CONFIGS = CONFIGS_DIR


# The demo model at quarter width (MobileNetV2 x0.25).
QUARTER_DEMO = {'model.backbone.widen_factor': 0.25, 'model.neck.in_channels': (8, 24, 1280),
                'model.neck.out_channels': (8, 24, 1280, 256, 128, 64),
                'model.bbox_head.in_channels': (8, 24, 1280, 256, 128, 64)}


def build(config: str, options: dict = None):
    register_all_modules()
    cfg = Config.fromfile(str(CONFIGS / config))
    cfg.model.backbone.init_cfg = None
    cfg.merge_from_dict(options or {})
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def coco_like_batch(size: int, num_images: int, num_classes: int, generator: torch.Generator,
                    dtype: torch.dtype = torch.float32) -> dict:
    """Images and 0-100 boxes per image (empty images included), as the dataloader gives them:
    float32 images in training (PhotoMetricDistortion's output), uint8 in testing."""
    images, samples = [], []
    for i in range(num_images):
        pixels = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator)
        images.append(pixels.to(dtype))
        count = int(torch.randint(0, 101, (1,), generator=generator)) if i % 3 else 0
        xy = torch.rand(count, 2, generator=generator) * size * 0.8
        wh = 2 + torch.rand(count, 2, generator=generator) * size * 0.5
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(2 * size, size),
                                             scale_factor=(1.0, 0.5)))
        labels = torch.randint(0, num_classes, (count,), generator=generator)
        boxes = torch.cat([xy, (xy + wh).clamp(max=size)], dim=1)
        sample.gt_instances = InstanceData(bboxes=boxes, labels=labels)
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


@pytest.fixture
def dynamo_counters():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    with torch._dynamo.config.patch(error_on_recompile=True):
        yield torch._dynamo.utils.counters
    torch._dynamo.reset()


def test_demo_compiled_losses_equal_eager_while_training(dynamo_counters):
    """Training steps of the compiled demo model (0-100 boxes per image) give the eager losses."""
    options = {**QUARTER_DEMO, 'model.train_cfg.gt_pad_size': 100}
    model, reference = build('synthetic_demo.py', options), build('synthetic_demo.py', options)
    model.train()
    reference.train()
    model.compile_graphs(backend='aot_eager')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        batch = coco_like_batch(64, 3, 3, generator)
        loss, log_vars = model.parse_losses(model(**model.data_preprocessor(batch, True), mode='loss'))
        reference.load_state_dict(model.state_dict())
        expected = reference.parse_losses(
            reference(**reference.data_preprocessor(batch, True), mode='loss'))[1]
        for key in ('loss_cls', 'loss_bbox'):
            assert log_vars[key].item() == pytest.approx(expected[key].item(), rel=1e-5)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not dynamo_counters['graph_break']
    assert dynamo_counters['stats']['unique_graphs'] == 2   # normalisation; network + loss


def shapes_only(graph_module: torch.fx.GraphModule, example_inputs: list):
    """A TorchDynamo backend that computes nothing: outputs of the right shapes, filled with zeros.

    Dynamo decides graph breaks and recompilations before any backend runs, so a
    backend that skips the work checks those for hundreds of steps in seconds.
    """
    outputs = graph_module(*example_inputs)   # once, on the meta device
    return lambda *args: [torch.zeros_like(out) if isinstance(out, torch.Tensor) else out for out in outputs]


@pytest.mark.parametrize('config, size', [
    ('synthetic_demo.py', 192),
    ('ssd300_coco.py', 300),
    ('ssd512_coco.py', 512),
    ('ssdlite_mobilenetv2_coco.py', 320),
])
def test_models_compile_fullgraph_and_never_recompile(dynamo_counters, config, size):
    """The real models at their input size on the meta device (shapes only): 200 training steps of
    COCO-like batches (0-100 boxes per image, empty images) and test batches (uint8 images) give one
    graph each for normalisation, loss and prediction; a recompilation fails the test."""
    model = build(config, {'model.train_cfg.gt_pad_size': 100}).to('meta')
    model.compile_graphs(backend=shapes_only)
    generator = torch.Generator().manual_seed(0)
    model.train()
    num_classes = model.bbox_head.num_classes
    for _ in range(200):
        model(**model.data_preprocessor(coco_like_batch(size, 2, num_classes, generator), True), mode='loss')
    model.eval()
    # uint8 test images go through the normalisation graph of the float32 training images.
    inputs = model.data_preprocessor(coco_like_batch(size, 2, num_classes, generator, torch.uint8))['inputs']
    img_shapes = torch.full((2, 2), size, device='meta')
    for _ in range(2):
        dets = model.predict_graph(inputs, img_shapes, torch.ones(2, 2, device='meta'))
    assert dets.bboxes.shape == (2, 200, 4)
    assert not dynamo_counters['graph_break']
    assert dynamo_counters['stats']['unique_graphs'] == 3


def test_bf16_autocast_loss_graph_compiles(dynamo_counters):
    model = build('synthetic_demo.py', {**QUARTER_DEMO, 'model.train_cfg.gt_pad_size': 100})
    model.train()
    model.compile_graphs(backend='aot_eager')
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model(**model.data_preprocessor(coco_like_batch(64, 2, 3, generator), True), mode='loss')
        loss, log_vars = model.parse_losses(losses)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        loss.backward()
    assert not dynamo_counters['graph_break']


@pytest.mark.slow
def test_inductor_losses_equal_eager(dynamo_counters):
    """The default backend (Inductor, C++ on the CPU): losses within 1e-5 relative, finite gradients.
    (Detections of compiled and eager models are compared through tools/test.py in test_compile.py.)"""
    options = {**QUARTER_DEMO, 'model.train_cfg.gt_pad_size': 16}
    eager, compiled = build('synthetic_demo.py', options), build('synthetic_demo.py', options)
    compiled.load_state_dict(eager.state_dict())
    if torch_release() < CPU_INDUCTOR_MIN_TORCH:
        # Older CPU Inductor computes this loss wrongly: --compile stops at start-up instead.
        with pytest.raises(UsageError, match='Inductor needs torch >='):
            compile_model(compiled, {})
        return
    compile_model(compiled, {})
    batch = coco_like_batch(64, 2, 3, torch.Generator().manual_seed(2))
    batch['data_samples'][1].gt_instances = batch['data_samples'][1].gt_instances[:12]
    losses = [model.parse_losses(model(**model.data_preprocessor(batch, True), mode='loss'))
              for model in (eager, compiled)]
    for key in ('loss_cls', 'loss_bbox'):
        assert losses[1][1][key].item() == pytest.approx(losses[0][1][key].item(), rel=1e-5)
    losses[1][0].backward()
    assert compiled.bbox_head.cls_convs[0][-1].weight.grad.isfinite().all()
    assert not dynamo_counters['graph_break']


def test_compile_graphs_keeps_module_compile_and_pads_statically_by_an_explicit_handover():
    """``compile_graphs`` does not shadow ``nn.Module.compile``; it hands the data preprocessor a new
    static padding (train_cfg.gt_pad_size's buckets) instead of flipping a shared object's flag."""
    model = build('synthetic_demo.py', {**QUARTER_DEMO, 'model.train_cfg.gt_pad_size': [16, 32]})
    assert type(model).compile is torch.nn.Module.compile
    eager_padding = model.gt_padding
    assert not eager_padding.static and model.data_preprocessor.gt_padding is eager_padding
    model.compile_graphs(backend='aot_eager')
    assert not eager_padding.static and not model.bbox_head.gt_padding.static
    assert model.gt_padding.static and model.data_preprocessor.gt_padding is model.gt_padding
    assert model.gt_padding.size_for(3) == 16 and eager_padding.size_for(3) == 8
