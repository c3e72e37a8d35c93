"""The class-name -> category-id mapping of COCO files, shared by ``CocoDataset`` and ``CocoMetric``.

Label ``i`` is the ``i``-th category of the file (in the file's order, or by id with
``sort_by_id``) among those named in ``metainfo['classes']``, as in mmdetection. Because the
dataset labels the boxes and the metric turns labels back into category ids, both must use this
one function: a class missing from the file, or classes listed in another order than the one the
labels follow, is an error here rather than a silent relabelling in one of them.
"""
from typing import List, Optional, Sequence


def label_category_ids(categories: Sequence[dict], classes: Optional[Sequence[str]], source: str,
                       sort_by_id: bool = False) -> List[int]:
    """The category id of each 0-based label.

    Args:
        categories: the file's ``categories`` entries (``id``, ``name``).
        classes: ``metainfo['classes']``; None labels every category.
        source: names the file in error messages.
        sort_by_id: order the categories by id first (mmdetection's ``sort_categories``, for
            files such as Objects365's whose category lists are not in id order).

    Raises:
        ValueError: a class is not a category of the file, or ``classes`` are not in the order
            the labels follow.
    """
    ordered = sorted(categories, key=lambda cat: cat['id']) if sort_by_id else list(categories)
    if classes is None:
        return [cat['id'] for cat in ordered]
    classes = list(classes)
    file_names = [cat['name'] for cat in ordered]
    missing = [name for name in classes if name not in file_names]
    if missing:
        raise ValueError(f"metainfo['classes'] names {missing}, which are not among the categories of "
                         f'{source}: {file_names}')
    label_order = [name for name in file_names if name in classes]
    if label_order != classes:
        order = 'category order sorted by id' if sort_by_id else "file's category order"
        raise ValueError(f"{source}: metainfo['classes'] must list the classes in the {order}, "
                         f'{label_order}; got {classes} (labels follow that order, as in mmdetection)')
    return [cat['id'] for cat in ordered if cat['name'] in classes]
