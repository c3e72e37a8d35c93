"""What an exported SSD file is: the names, shapes and metadata the exporter writes and the runtime reads.

- input ``images``: float32 [B, 3, H, W], BGR, 0..255, already resized to the model's input
  size (what the test pipeline gives before normalisation);
- outputs ``boxes`` float32 [B, K, 4] (xyxy, input pixels), ``scores`` float32 [B, K],
  ``labels`` int64 [B, K] (0-based), ``num_dets`` int64 [B]; rows past ``num_dets`` are
  padding (zeros), K = ``max_per_img``.

The file's metadata holds ``classes`` (JSON list of names), ``num_classes`` and ``input_size`` ("H,W").
Kept apart from the exporter so that running a file needs neither torch.onnx nor the exporter.
"""

INPUT_NAME = 'images'
OUTPUT_NAMES = ('boxes', 'scores', 'labels', 'num_dets')


def is_onnx_file(path: str) -> bool:
    """Whether ``path`` names an exported model (by its suffix, as ``tools/test.py`` decides)."""
    return str(path).lower().endswith('.onnx')
