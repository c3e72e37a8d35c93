"""``--tta`` on the shipped configs: two views per image (as is, mirrored) at the test size, merged by
the config's ``tta_model``; a config's own ``tta_model`` / ``tta_pipeline`` win."""
import pytest
from mmengine.dataset import Compose
from repo_paths import CONFIGS_DIR

from ssd_npu.config import apply_test_time_aug, flip_tta_pipeline, load_config
from ssd_npu.config import test_dataset_cfg as leaf_test_dataset
from ssd_npu.setup_env import register_all_modules

SHIPPED = sorted(path.name for path in CONFIGS_DIR.glob('*.py'))


@pytest.mark.parametrize('name', SHIPPED)
def test_every_shipped_config_gets_a_flip_view_at_its_test_size(name):
    register_all_modules()
    cfg = load_config(str(CONFIGS_DIR / name))
    test_pipeline = [dict(step) for step in leaf_test_dataset(cfg).pipeline]
    model = cfg.model
    apply_test_time_aug(cfg)

    assert cfg.model['type'] == 'DetTTAModel' and cfg.model['module'] == model
    assert cfg.model['tta_cfg']['nms']['iou_threshold'] == model['test_cfg']['nms']['iou_threshold']
    load, tta = leaf_test_dataset(cfg).pipeline
    assert load == test_pipeline[0] and tta['type'] == 'TestTimeAug'
    resize = next(step for step in test_pipeline if step['type'] == 'Resize')
    assert [resize] in tta['transforms']
    assert [dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=0.0)] in tta['transforms']
    pack = tta['transforms'][-1][0]
    assert pack['type'] == 'PackDetInputs' and {'flip', 'flip_direction'} <= set(pack['meta_keys'])
    Compose(leaf_test_dataset(cfg).pipeline)  # every step builds


def test_the_views_of_an_image_are_the_image_and_its_mirror(tmp_path):
    import cv2
    import numpy as np

    register_all_modules()
    image = np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), image)
    test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=False),
                     dict(type='PackDetInputs', meta_keys=('img_path', 'ori_shape', 'scale_factor'))]
    views = Compose(flip_tta_pipeline(test_pipeline))(dict(img_path=str(tmp_path / 'a.png')))
    (mirrored, plain), (mirrored_meta, plain_meta) = views['inputs'], views['data_samples']
    assert (mirrored_meta.flip, plain_meta.flip) == (True, False)
    assert mirrored_meta.flip_direction == 'horizontal' and mirrored_meta.ori_shape == (60, 90)
    assert mirrored.shape == plain.shape == (3, 64, 64)
    assert (mirrored.flip(-1) == plain).all()


def test_a_config_s_own_tta_settings_win():
    cfg = load_config(str(CONFIGS_DIR / 'synthetic_demo.py'))
    own_pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='TestTimeAug', transforms=[[dict(type='PackDetInputs')]])]
    cfg.tta_pipeline = own_pipeline
    cfg.tta_model = dict(type='DetTTAModel', tta_cfg=dict(max_per_img=7))
    apply_test_time_aug(cfg)
    assert leaf_test_dataset(cfg).pipeline == own_pipeline
    assert cfg.model['tta_cfg'] == dict(max_per_img=7)


def test_a_pipeline_it_cannot_extend_is_a_clear_error():
    with pytest.raises(ValueError, match='write a tta_pipeline in the config'):
        flip_tta_pipeline([dict(type='LoadImageFromNDArray'), dict(type='PackDetInputs')])
    with pytest.raises(ValueError, match='has no PackDetInputs'):
        flip_tta_pipeline([dict(type='LoadImageFromFile')])
