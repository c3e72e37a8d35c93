import pytest

from ssd_npu.datasets import VOCDataset


def voc_object(name, box, difficult=0):
    corners = ''.join(f'<{k}>{v}</{k}>' for k, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), box))
    return f'<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>{corners}</bndbox></object>'


@pytest.fixture
def make_voc(tmp_path, write_jpeg):
    """``make_voc({img_id: xml_body or None}, size=True) -> data_root`` with VOC2007 laid out."""
    def make(annotations, size=True):
        year = tmp_path / 'VOC2007'
        (year / 'Annotations').mkdir(parents=True, exist_ok=True)
        (year / 'ImageSets' / 'Main').mkdir(parents=True, exist_ok=True)
        (year / 'ImageSets' / 'Main' / 'trainval.txt').write_text('\n'.join(annotations) + '\n')
        for img_id, body in annotations.items():
            write_jpeg(year / 'JPEGImages' / f'{img_id}.jpg', height=48, width=64)
            if body is not None:
                size_xml = '<size><width>64</width><height>48</height><depth>3</depth></size>'
                (year / 'Annotations' / f'{img_id}.xml').write_text(
                    f'<annotation>{size_xml if size else ""}{body}</annotation>')
        return str(tmp_path)
    return make


def build(root, **kwargs):
    return VOCDataset(ann_file='VOC2007/ImageSets/Main/trainval.txt', data_root=root,
                      data_prefix=dict(sub_data_root='VOC2007/'), **kwargs)


def test_parses_objects_difficult_and_one_based_corners(make_voc):
    root = make_voc({'000001': voc_object('dog', (11, 21, 40, 45))
                     + voc_object('person', (1, 1, 10, 10), difficult=1)
                     + voc_object('unicorn', (1, 1, 10, 10))})
    ds = build(root)
    info = ds.get_data_info(0)
    assert info['img_path'] == f'{root}/VOC2007/JPEGImages/000001.jpg'
    assert (info['img_id'], info['width'], info['height']) == ('000001', 64, 48)
    # VOC corners are 1-based: mmdetection subtracts 1; difficult objects are ignored.
    assert info['instances'] == [dict(bbox=[10, 20, 39, 44], bbox_label=11, ignore_flag=0),
                                 dict(bbox=[0, 0, 9, 9], bbox_label=14, ignore_flag=1)]
    assert ds.metainfo['dataset_type'] == 'VOC2007' and len(ds.metainfo['classes']) == 20


def test_size_is_read_from_the_image_when_the_xml_lacks_it(make_voc):
    root = make_voc({'000001': voc_object('dog', (11, 21, 40, 45))}, size=False)
    info = build(root).get_data_info(0)
    assert (info['width'], info['height']) == (64, 48)


def test_bbox_min_size_marks_small_boxes_ignored(make_voc):
    root = make_voc({'000001': voc_object('dog', (11, 21, 40, 45)) + voc_object('cat', (1, 1, 5, 40))})
    ds = build(root, filter_cfg=dict(bbox_min_size=8))
    assert [i['ignore_flag'] for i in ds.get_data_info(0)['instances']] == [0, 1]


def test_missing_or_broken_xml_skips_the_image_with_a_warning(make_voc, log_messages):
    root = make_voc({'000001': voc_object('dog', (11, 21, 40, 45)), '000002': None,
                     '000003': '<object><name>dog'})
    ds = build(root)
    assert len(ds) == 1
    assert ds.parse_problems['annotation file missing'] == 1
    assert [r for r in ds.parse_problems if r.startswith('not valid XML')]
    id_list = f'{root}/VOC2007/ImageSets/Main/trainval.txt'
    assert (f'{id_list}: {root}/VOC2007/Annotations/000002.xml: annotation file missing; '
            'image skipped') in log_messages


@pytest.mark.parametrize('box, reason', [
    (('nan', 1, 10, 10), 'non-finite coordinates'),
    ((20, 1, 10, 10), 'non-positive width or height'),
    ((100, 100, 120, 120), 'outside the image'),
    (('x', 1, 10, 10), 'bndbox without 4 numeric corners'),
])
def test_broken_box_is_dropped_with_a_warning(make_voc, log_messages, box, reason):
    root = make_voc({'000001': voc_object('dog', (11, 21, 40, 45)) + voc_object('cat', box)})
    ds = build(root)
    assert len(ds.get_data_info(0)['instances']) == 1
    assert ds.parse_problems == {reason: 1}
    assert any(f'000001.xml, object 1 (cat): {reason}; box dropped' in m for m in log_messages)


def test_missing_id_list_stops_at_start_up(tmp_path):
    with pytest.raises(FileNotFoundError, match='image id list not found: .*trainval.txt'):
        build(str(tmp_path))
