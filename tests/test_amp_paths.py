"""What a GPU run under mixed precision executes, checked on the CPU for every chapter.

No GPU has been lent to this project, so the CUDA AMP path cannot run here. PyTorch's autocast has a CPU backend in
bfloat16, and the training loop enters autocast through one call for both devices (``inpaintlib.train.steps``:
``torch.autocast(device_type=<the run's device>, dtype=amp_dtype)``). Here each chapter's own training function runs
its **paper** network and paper recipe (the paper's layers and widths, on images as small as each network accepts,
``paper_run_script.SIZE``; batch 2, as BatchNorm needs two values at a 1x1 bottleneck; one update per stage; the VGG
features seeded random because ImageNet weights cannot be fetched offline) with ``amp_dtype="bfloat16"`` on the CPU: every
layer, loss, discriminator and gradient penalty of the paper path executes under autocast, which catches dtype
mismatches (a float32 buffer meeting a bfloat16 activation, a loss that needs float32) before a user's first GPU run
does. What the CPU cannot check: float16's gradient scaler, CUDA kernels, NCCL.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from inpaintlib.train.steps import build_parts
from inpaintlib.train import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paper_run_script as S  # noqa: E402

PAPERS = ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn")


def _paper_run(paper: str):
    """The chapter's paper config, its paper recipe for one bfloat16 update of batch 2 on the CPU (amp as the
    recipe says), and its trainer."""
    return S.paper_run(paper, steps=1, batch_size=2, ckpt_every=None, amp_dtype="bfloat16")


def test_autocast_is_entered_on_the_cpu_in_bfloat16_only():
    net = torch.nn.Conv2d(3, 3, 1)
    on = build_parts(net, None, TrainConfig(amp=True, amp_dtype="bfloat16"), torch.device("cpu"))
    with on.autocast():
        assert net(torch.rand(1, 3, 4, 4)).dtype == torch.bfloat16
    for cfg in (TrainConfig(amp=True, amp_dtype="float16"), TrainConfig(amp=False, amp_dtype="bfloat16")):
        off = build_parts(net, None, cfg, torch.device("cpu"))
        with off.autocast():
            assert net(torch.rand(1, 3, 4, 4)).dtype == torch.float32
    assert not on.use_scaler  # the gradient scaler is float16's, on CUDA only


@pytest.mark.parametrize("paper", PAPERS)
def test_one_paper_configuration_update_runs_under_bfloat16_autocast(paper, tmp_path):
    cfg, recipe, train_fn = _paper_run(paper)
    seen: list[torch.dtype] = []
    real_autocast = torch.autocast

    def spy(*args, **kwargs):  # record what the training loop asks autocast for
        seen.append((kwargs.get("device_type", args[0] if args else None), kwargs.get("dtype")))
        return real_autocast(*args, **kwargs)

    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "autocast", spy)
        out = train_fn(cfg, recipe, S.Photos(S.SIZE[paper], n=2), tmp_path / "run", progress=False, resume=False)
    model, history = out["main"] if isinstance(out, dict) else out  # DeepGIN: the warm-up, then the main stage
    if recipe.train.amp:
        assert ("cpu", torch.bfloat16) in seen, seen  # the update ran under CPU autocast in bfloat16
    else:  # CtxAttn's recipe keeps the gradient penalty's double backward in float32: no autocast on a GPU either
        assert ("cpu", torch.bfloat16) not in seen, seen
    losses = history.train["loss"].tolist()
    assert losses and all(math.isfinite(v) for v in losses), losses
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())  # master weights
    assert (tmp_path / "run" / "model.safetensors").is_file()
