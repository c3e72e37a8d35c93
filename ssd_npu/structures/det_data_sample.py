"""The data sample that flows between pipeline, model and metric (mmdetection 3.x's contract)."""
from mmengine.structures import BaseDataElement, InstanceData


def _instance_field(name: str) -> property:
    """A property stored as ``_<name>`` that only accepts InstanceData."""
    private = '_' + name

    def get(self):
        return getattr(self, private)

    def set_(self, value: InstanceData) -> None:
        self.set_field(value, private, dtype=InstanceData)

    def delete(self) -> None:
        delattr(self, private)

    return property(get, set_, delete)


class DetDataSample(BaseDataElement):
    """One image's annotations and predictions.

    Fields (all :class:`~mmengine.structures.InstanceData`):

    - ``gt_instances``: ``bboxes`` (FloatTensor[N, 4], xyxy, pixels of the
      network input) and ``labels`` (LongTensor[N], 0-based class index).
    - ``ignored_instances``: crowd / difficult boxes, same fields; they are
      neither positives nor negatives for the metric.
    - ``pred_instances``: ``bboxes`` (xyxy, pixels of the original image),
      ``scores`` and ``labels``.

    Metainfo keys set by the pipeline: ``img_id``, ``img_path``,
    ``ori_shape`` (h, w), ``img_shape`` (h, w), ``scale_factor`` (w, h),
    ``flip``, ``flip_direction``; the data preprocessor adds
    ``batch_input_shape`` and ``pad_shape``.
    """

    gt_instances = _instance_field('gt_instances')
    pred_instances = _instance_field('pred_instances')
    ignored_instances = _instance_field('ignored_instances')
