"""DetInferencer on folders, globs, arrays and lists, detect_video on a video file and a camera, and
tools/demo.py on each: the same detections as inference_detector, in mmdetection's output layout."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from detector_fixtures import assert_same_detections, small_ssdlite_config

from ssd_npu.apis import (
    DetInferencer,
    detect_video,
    inference_detector,
    init_detector,
    list_images,
    video_inference,
)

REPO = Path(__file__).resolve().parents[2]
FRAMES, FPS, FRAME_SIZE = 7, 12.0, (160, 120)  # (width, height)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """(checkpoint, config file, image folder with a sub-folder, video file)."""
    folder = tmp_path_factory.mktemp('inferencer')
    torch.manual_seed(0)
    config = small_ssdlite_config()
    checkpoint = folder / 'small.pth'
    torch.save({'state_dict': init_detector(config).state_dict()}, checkpoint)
    config_file = folder / 'small.py'
    config.dump(str(config_file))
    rng = np.random.default_rng(0)
    images = folder / 'images'
    for index, name in enumerate(['a.jpg', 'b.png', 'sub/c.jpg', 'sub/d.jpg', 'e.jpg']):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(images / name), rng.integers(0, 256, (90 + 10 * index, 120, 3), dtype=np.uint8))
    (images / 'notes.txt').write_text('not an image')
    video = folder / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), FPS, FRAME_SIZE)
    for _ in range(FRAMES):
        writer.write(rng.integers(0, 256, (FRAME_SIZE[1], FRAME_SIZE[0], 3), dtype=np.uint8))
    writer.release()
    return checkpoint, config_file, images, video


@pytest.fixture(scope='module')
def inferencer(files):
    checkpoint, config_file, _, _ = files
    return DetInferencer(str(config_file), str(checkpoint), show_progress=False)


def _frames(video: Path) -> list:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def _same(prediction: dict, expected) -> None:
    pred = expected.pred_instances
    assert prediction['labels'] == pred.labels.tolist()
    np.testing.assert_allclose(prediction['scores'], pred.scores.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(prediction['bboxes']).reshape(-1, 4), pred.bboxes.numpy(), atol=1e-3)


def test_a_folder_in_batches_gives_the_single_image_detections_in_mmdetections_layout(files, inferencer,
                                                                                       tmp_path):
    _, _, images, _ = files
    result = inferencer(str(images), batch_size=3, out_dir=str(tmp_path), no_save_pred=False)
    names = ['a', 'b', 'e', 'sub/c', 'sub/d']
    assert [name for name, _ in list_images(str(images))] == names
    assert len(result['predictions']) == 5 and result['visualization'] == []
    for name, prediction in zip(names, result['predictions']):
        path = next(images.glob(f'{name}.*'))
        expected = inference_detector(inferencer.model, str(path))
        _same(prediction, expected)
        assert json.loads((tmp_path / 'preds' / f'{name}.json').read_text()) == prediction
        drawing = cv2.imread(str(tmp_path / 'vis' / f'{name}{path.suffix}'))
        assert drawing.shape == cv2.imread(str(path)).shape
    assert len(prediction['bboxes']) > 0 and all(len(box) == 4 for box in prediction['bboxes'])
    assert inferencer.images_per_second > 0


def test_arrays_globs_and_lists(files, inferencer):
    _, _, images, _ = files
    array = cv2.imread(str(images / 'a.jpg'))
    result = inferencer([array, str(images / 'b.png')], batch_size=2, return_vis=True,
                        return_datasamples=True)
    assert [name for name, _ in list_images([array, array])] == ['00000000', '00000001']
    assert_same_detections(inference_detector(inferencer.model, array).pred_instances,
                           result['predictions'][0].pred_instances)
    assert [drawing.shape for drawing in result['visualization']] == [(90, 120, 3), (100, 120, 3)]
    assert [name for name, _ in list_images(str(images / 'sub' / '*.jpg'))] == ['c', 'd']
    with pytest.raises(FileNotFoundError, match='no image, folder or pattern'):
        list_images(str(images / 'missing.jpg'))
    with pytest.raises(FileNotFoundError, match='no images'):
        list_images(str(images / '*.gif'))


def test_a_video_gives_every_frame_drawn_at_its_rate_and_per_frame_predictions(files, inferencer, tmp_path):
    _, _, _, video = files
    done = detect_video(inferencer, str(video), str(tmp_path), batch_size=3)
    assert done['frames'] == FRAMES and done['fps'] == pytest.approx(FPS)
    written = cv2.VideoCapture(done['video'])
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert written.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    size = (int(written.get(cv2.CAP_PROP_FRAME_WIDTH)), int(written.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    assert size == FRAME_SIZE
    predictions = json.loads(Path(done['predictions']).read_text())
    assert predictions['fps'] == pytest.approx(FPS) and len(predictions['frames']) == FRAMES
    for index, (entry, frame) in enumerate(zip(predictions['frames'], _frames(video))):
        assert entry['frame'] == index
        _same(entry, inference_detector(inferencer.model, frame))


def test_a_camera_index_reads_frames_until_the_limit(files, inferencer, tmp_path, monkeypatch):
    _, _, _, video = files
    opened = []
    real_capture = cv2.VideoCapture

    def camera(source):
        opened.append(source)
        return real_capture(str(video))   # the clip stands in for camera 0

    monkeypatch.setattr(video_inference.cv2, 'VideoCapture', camera)
    done = detect_video(inferencer, '0', str(tmp_path), batch_size=2, max_frames=4)
    assert opened == [0] and done['frames'] == 4
    assert done['video'].endswith('camera_0.mp4')
    assert len(json.loads(Path(done['predictions']).read_text())['frames']) == 4


def _demo(args: list, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'OMP_NUM_THREADS': '1'}
    return subprocess.run([sys.executable, str(REPO / 'tools' / 'demo.py'), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_demo_py_on_a_folder_a_video_and_one_image(files, tmp_path):
    checkpoint, config_file, images, video = files
    model = [str(config_file), str(checkpoint)]
    result = _demo([str(images), *model, '--out-dir', 'out', '--batch-size', '2'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '5 images at' in result.stdout and 'img/s' in result.stdout
    assert sorted(p.relative_to(tmp_path / 'out').as_posix() for p in (tmp_path / 'out').rglob('*.*')) == [
        'preds/a.json', 'preds/b.json', 'preds/e.json', 'preds/sub/c.json', 'preds/sub/d.json',
        'vis/a.jpg', 'vis/b.png', 'vis/e.jpg', 'vis/sub/c.jpg', 'vis/sub/d.jpg']
    result = _demo([str(video), *model, '--out-dir', 'out', '--batch-size', '4'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'{FRAMES} frames at' in result.stdout
    assert (tmp_path / 'out' / 'vis' / 'clip.mp4').stat().st_size > 0
    assert len(json.loads((tmp_path / 'out' / 'preds' / 'clip.json').read_text())['frames']) == FRAMES
    result = _demo([str(images / 'a.jpg'), *model, '--out-file', 'one.jpg', '--score-thr', '0.05'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'one.jpg').stat().st_size > 0 and 'drawing written to one.jpg' in result.stdout


@pytest.mark.parametrize('args, message', [
    (['{images}', '--out-file', 'x.jpg'], '--out-file is for one image'),
    (['{images}/missing.mp4'], 'video file not found'),
    (['{images}/nothing/*.jpg'], 'no images'),
    (['{images}/missing.jpg'], 'no image, folder or pattern'),
    (['{images}', '--batch-size', '0'], '--batch-size must be >= 1'),
])
def test_demo_py_mistakes_are_one_line_errors(files, tmp_path, args, message):
    checkpoint, config_file, images, _ = files
    args = [arg.format(images=images) for arg in args]
    result = _demo([args[0], str(config_file), str(checkpoint), *args[1:]], tmp_path)
    assert result.returncode == 1
    assert message in result.stderr and 'Traceback' not in result.stderr, result.stderr[-2000:]
