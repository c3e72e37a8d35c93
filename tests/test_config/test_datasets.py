import os

from repo_paths import CONFIGS_DIR

from ssd_npu.config import load_config, set_data_root

CONFIGS = str(CONFIGS_DIR)


def test_one_option_moves_every_dataset_and_annotation_file():
    cfg = load_config(os.path.join(CONFIGS, 'ssd300_coco.py'))
    set_data_root(cfg, '/datasets/coco2017')
    assert cfg.train_dataloader.dataset.dataset.data_root == '/datasets/coco2017/'  # inside RepeatDataset
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.data_root == '/datasets/coco2017/'
    assert cfg.val_evaluator.ann_file == '/datasets/coco2017/annotations/instances_val2017.json'
    assert cfg.test_evaluator.ann_file == '/datasets/coco2017/annotations/instances_val2017.json'


def test_concatenated_voc_datasets_move_together():
    cfg = load_config(os.path.join(CONFIGS, 'ssd300_voc0712.py'))
    set_data_root(cfg, 'voc')
    datasets = cfg.train_dataloader.dataset.dataset.datasets
    assert [dataset.data_root for dataset in datasets] == ['voc/', 'voc/']
    assert cfg.test_dataloader.dataset.data_root == 'voc/'
