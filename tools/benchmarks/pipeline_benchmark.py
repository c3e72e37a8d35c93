"""Time a data pipeline step by step, in one process (= one CPU core)."""
import copy
import time
from dataclasses import dataclass
from typing import List, Sequence

from ssd_npu.registry import TRANSFORMS


@dataclass
class PipelineTiming:
    """Seconds spent in each pipeline step over ``images`` images.

    ``images`` counts the samples that went through the whole pipeline; a sample that a
    step rejected (returned None) counts in the steps it reached only.
    """

    step_names: List[str]
    step_seconds: List[float]
    images: int

    @property
    def images_per_second(self) -> float:
        """Throughput of the whole pipeline on one core."""
        return self.images / max(sum(self.step_seconds), 1e-12)

    def table(self) -> str:
        """A text table: each step's ms per image and share of the total."""
        total = max(sum(self.step_seconds), 1e-12)
        width = max(len(name) for name in self.step_names + ['total'])
        lines = [f'{"step":<{width}}  {"ms/img":>8}  {"share":>6}']
        for name, seconds in zip(self.step_names, self.step_seconds):
            lines.append(f'{name:<{width}}  {1e3 * seconds / max(self.images, 1):8.3f}  '
                         f'{100 * seconds / total:5.1f}%')
        lines.append(f'{"total":<{width}}  {1e3 * total / max(self.images, 1):8.3f}  100.0%  '
                     f'-> {self.images_per_second:.1f} img/s per core')
        return '\n'.join(lines)


def time_pipeline(pipeline: Sequence[dict], data_infos: Sequence[dict],
                  repeats: int = 1) -> PipelineTiming:
    """Run every data info through the pipeline ``repeats`` times, timing each step.

    Args:
        pipeline: transform configs (registered types of the current scope).
        data_infos: dataset data infos (``img_path``, ``instances``, ...), as a dataset's
            ``get_data_info`` returns them.
        repeats: passes over ``data_infos``; the random augmentations differ per pass.
    """
    transforms = [TRANSFORMS.build(cfg) for cfg in pipeline]
    names = [type(t).__name__ for t in transforms]
    seconds = [0.0] * len(transforms)
    images = 0
    for _ in range(repeats):
        for info in data_infos:
            results = copy.deepcopy(info)
            for index, transform in enumerate(transforms):
                start = time.perf_counter()
                results = transform(results)
                seconds[index] += time.perf_counter() - start
                if results is None:
                    break
            else:
                images += 1
    return PipelineTiming(names, seconds, images)
