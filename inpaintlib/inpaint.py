"""``python -m inpaintlib.inpaint``: inpaint your own image with a trained checkpoint or a classical method.

Example (a mask from another codebase, white = hole)::

    python -m inpaintlib.inpaint --image photo.jpg --mask mask.png --mask-convention 255=hole \\
        --checkpoint model.safetensors --out filled.png --figure side_by_side.png

Writes the composite (known pixels unchanged, the hole filled) as a PNG of the image's size (or of the size asked
for with ``--size`` / ``--max-side``). Exit status: 0 on success, 1 when an input is wrong (the message says what
and the expected form), 2 for wrong command-line arguments. The library behind it is :mod:`inpaintlib.inference`.
"""
from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from . import inference

EPILOG = """\
mask conventions: '255=hole' = white marks the pixels to fill (DeepFill's and LaMa's mask files);
'255=known' = white marks the pixels to keep (this library's mask test sets). 0/1 and 16-bit 0/65535 masks
follow the same polarity. An RGB mask is read as grey only if R = G = B everywhere. A hole covering more than
60% of the image is refused as a likely polarity mix-up unless --allow-large-hole is given.

work size (--work-size, what resolution the network really runs at):
  train   default for --checkpoint. Image and mask are resized so the longer side equals the size the network
          was trained at (its config's image_size: 32 px for MSFEF's ci checkpoint, 64 for the demo models,
          256 for paper), the network runs there (padded to its size multiple), and its output is upsampled into the hole. The holes
          then have the scale the network learned, but the fill has that resolution: a ci checkpoint fills a
          600x512 photograph with a 32 px guess.
  native  default for --method. Run at the image's own size, padded by reflection (image and mask together)
          to the network's size multiple. Sharper, but a small network then meets holes far larger than any it
          was trained on.
  N       run with the longer side resized to N pixels.
Known pixels are copied from the input in every case. 'exemplar' is slow beyond about 128 px: use --max-side
or --work-size.

exit status: 0 written; 1 an input is wrong (message on stderr); 2 wrong arguments."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inpaintlib.inpaint", description="Inpaint one image with a "
                                "checkpoint or a classical method and write the composite PNG.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True, help="the photograph (any format PIL reads)")
    p.add_argument("--mask", required=True, help="the mask: a 2-level PNG (8-bit, 16-bit, or RGB with R=G=B)")
    p.add_argument("--mask-convention", required=True, metavar="{255=hole,255=known}",
                   help="which level of the mask file is the hole (required; see below)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a .safetensors checkpoint with its .json sidecar beside it")
    src.add_argument("--method", choices=sorted(inference.METHODS), help="a classical method instead of a network")
    p.add_argument("--out", required=True, help="where to write the composite (.png)")
    p.add_argument("--figure", help="also write a side-by-side figure: input with the hole, output, composite")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, metavar="N", help="central square crop resized to N x N first")
    size.add_argument("--max-side", type=int, metavar="N", help="shrink first so the longer side is at most N")
    p.add_argument("--work-size", default=None, metavar="{train,native,N}",
                   help="resolution the method runs at (default: train for --checkpoint, native for --method)")
    p.add_argument("--resize-mask", action="store_true", help="resize a mask of another size to the image's")
    p.add_argument("--mask-threshold", type=float, metavar="T",
                   help="binarise a mask with grey edges at T x full scale (e.g. 0.5) instead of refusing it")
    p.add_argument("--allow-large-hole", action="store_true", help="accept a hole over 60%% of the image")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    return p


def _work_size(text: str | None):
    if text is None or text in ("train", "native"):
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"--work-size must be 'train', 'native' or a positive integer, got {text!r}")


def _check_out(path: Path, what: str, keep: dict[str, str | None]) -> None:
    """``path`` may be written as ``what``: a .png in an existing folder that is none of the files in ``keep``
    (option -> path: the inputs, and the other output), compared after resolving links and relative parts."""
    if path.suffix.lower() != ".png":
        raise ValueError(f"{what} {path} must end in .png (a lossless format keeps the known pixels exact)")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {what} {path} does not exist")
    for option, other in keep.items():
        if other is not None and path.resolve() == Path(other).resolve():
            raise ValueError(f"{what} {path} is the same file as {option} {other}: writing it would overwrite "
                             f"{'your input' if option in ('--image', '--mask') else 'the other output'}; choose "
                             "another file")


def _png_bytes(image: torch.Tensor) -> bytes:
    from PIL import Image

    arr = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


def _figure(path: Path, image, valid, output, label: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .files import atomic_write_bytes
    from .viz import inpaint_grid

    h, w = image.shape[-2:]
    fig = inpaint_grid({"image": image[None], "valid": valid, label: output[None]},
                       {"input": "input (hole in magenta)", label: f"{label} output",
                        f"{label} composite": "composite", "image": "original"},
                       n=1, size=3.0 * max(1.0, w / h) ** 0.5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _load_inputs(args):
    from .data import load_image

    image_path = Path(args.image)
    if not image_path.is_file():
        raise FileNotFoundError(f"image file {image_path} does not exist")
    image = load_image(image_path)
    valid = inference.load_mask(args.mask, args.mask_convention, threshold=args.mask_threshold, max_hole_ratio=None)
    if not args.allow_large_hole:
        msg = inference.hole_ratio_message(valid, args.mask_convention, where=f"mask file {args.mask}")
        if msg:
            raise ValueError(msg.replace("pass max_hole_ratio=None (--allow-large-hole on the command line)",
                                         "pass --allow-large-hole"))
    image, valid = inference.align_pair(image, valid, resize_mask=args.resize_mask)
    box, out_hw = inference.plan_resize(*image.shape[-2:], size=args.size, max_side=args.max_side)
    return inference.transform_pair(image, valid, box=box, size=out_hw)


def run(args) -> str:
    """Do what the parsed ``args`` ask; return the summary line."""
    work_size = _work_size(args.work_size)
    out_path = Path(args.out)
    inputs = {"--image": args.image, "--mask": args.mask}
    _check_out(out_path, "--out", inputs)
    if args.figure:
        _check_out(Path(args.figure), "--figure", {**inputs, "--out": args.out})
    image, valid = _load_inputs(args)
    if args.checkpoint:
        from .train import choose_device
        method = inference.load_model(args.checkpoint, device=choose_device(args.device))
        label = Path(args.checkpoint).stem
    else:
        method = label = args.method
    comp, output = inference.inpaint(method, image, valid, work_size=work_size, return_output=True)
    from .files import atomic_write_bytes
    atomic_write_bytes(out_path, _png_bytes(comp[0]))
    if args.figure:
        _figure(Path(args.figure), image[0], valid, output[0], label)
    h, w = image.shape[-2:]
    multiple, train = inference.model_geometry(method) if args.checkpoint else (1, None)
    ws = work_size or ("train" if train else "native")
    wh, ww = inference.work_shape((h, w), ws, train)
    ph, pw = -(-wh // multiple) * multiple, -(-ww // multiple) * multiple
    padded = f", padded to {ph}x{pw}" if (ph, pw) != (wh, ww) else ""
    hole = 1 - float(valid.double().mean())
    return (f"wrote {out_path} ({h}x{w}, hole {hole:.1%}); {label} ran at {wh}x{ww}{padded} (work size {ws!r})"
            + (f"; figure {args.figure}" if args.figure else ""))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            print(run(args))
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"inpaint: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
