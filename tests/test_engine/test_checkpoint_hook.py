"""``save_best`` never leaves a run without a best checkpoint: the old one is removed after the new one
is written."""
import errno

import pytest
from mmengine.evaluator import BaseMetric, Evaluator

from ssd_npu.errors import CheckpointWriteError


class ScriptedMetric(BaseMetric):
    """Reports the next of ``scores`` at each validation."""

    def __init__(self, scores):
        super().__init__()
        self.scores = list(scores)

    def process(self, data_batch, data_samples) -> None:
        self.results.append(None)

    def compute_metrics(self, results) -> dict:
        return dict(score=self.scores.pop(0))


def _runner(make_runner, toy_dataset, scores):
    dataset = toy_dataset(length=4)
    return make_runner(
        dataset, [], max_epochs=len(scores),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, save_best='score',
                                           rule='greater')),
        val_dataloader=dict(dataset=dataset, batch_size=2, num_workers=0,
                            collate_fn=dict(type='pseudo_collate'),
                            sampler=dict(type='DefaultSampler', shuffle=False)),
        val_cfg=dict(type='ValLoop'), val_evaluator=Evaluator([ScriptedMetric(scores)]))


def test_only_the_best_epochs_checkpoint_is_kept(make_runner, toy_dataset, tmp_path):
    _runner(make_runner, toy_dataset, [0.1, 0.3, 0.2]).train()
    assert sorted(path.name for path in (tmp_path / 'work').glob('best_*.pth')) == ['best_score_epoch_2.pth']


def test_a_failed_write_of_a_new_best_keeps_the_previous_best(make_runner, toy_dataset, tmp_path,
                                                              monkeypatch):
    runner = _runner(make_runner, toy_dataset, [0.1, 0.3])
    save = runner.save_checkpoint

    def disk_full_for_the_second_best(out_dir, filename, **kwargs):
        if filename == 'best_score_epoch_2.pth':
            raise OSError(errno.ENOSPC, 'No space left on device')
        return save(out_dir, filename, **kwargs)

    monkeypatch.setattr(runner, 'save_checkpoint', disk_full_for_the_second_best)
    kept = 'No space left on device. Previous best kept: .*best_score_epoch_1'
    with pytest.raises(CheckpointWriteError, match=kept):
        runner.train()
    assert [path.name for path in (tmp_path / 'work').glob('best_*.pth')] == ['best_score_epoch_1.pth']
