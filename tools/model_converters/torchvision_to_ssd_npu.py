"""Convert torchvision ``ssd300_vgg16`` weights for ``configs/ssd300_coco_torchvision.py``.

    python tools/model_converters/torchvision_to_ssd_npu.py ssd300_vgg16_coco-b556d3b4.pth ssd300_tv.pth
    python tools/test.py configs/ssd300_coco_torchvision.py ssd300_tv.pth
"""
import argparse

import torch

from ssd_npu.models.detectors.torchvision_conversion import (
    COCO_CATEGORY_IDS,
    convert_torchvision_ssd300_vgg16,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='torchvision state dict (.pth), or a torchvision reference '
                                    'training checkpoint with a "model" entry')
    parser.add_argument('dst', help='output checkpoint for ssd_npu')
    parser.add_argument('--category-ids', type=int, nargs='+', default=list(COCO_CATEGORY_IDS),
                        help='torchvision class index of each of our classes, in order '
                             '(default: the 80 COCO category ids)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # weights_only: a state dict is plain tensors, nothing in it needs to run code.
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = checkpoint['model'] if 'model' in checkpoint else checkpoint
    converted = convert_torchvision_ssd300_vgg16(state_dict, args.category_ids)
    torch.save({'state_dict': converted,
                'meta': {'converted_from': 'torchvision ssd300_vgg16', 'category_ids': args.category_ids}},
               args.dst)
    print(f'Wrote {len(converted)} tensors for {len(args.category_ids)} classes to {args.dst}')


if __name__ == '__main__':
    main()
