"""Global and local WGAN-GP critics and the two losses of training (DeepFill v1: book/reference_implementations.md,
"DeepFill v1: losses, critics and optimiser"; the CtxAttn paper names no loss and no critic). Values taken from
there say "DeepFill v1".

* :class:`GlobalLocalCritic`: a global critic on the whole composite and a local critic on a square crop around the
  hole. DeepFill v1 trains with one box hole per batch and crops that box; with irregular holes we crop, per image,
  the square of side ``max(bounding-box side, local_size / 2)`` centred on the hole's bounding box (kept inside the
  image) and resize it to ``local_size`` (bilinear for images, nearest for the hole map) -- our choice.
* :func:`generator_loss`: DeepFill v1's ``1.2 * (discounted L1 on the hole + L1 on known pixels)`` for both stages,
  the coarse stage's terms weighted 1.2 more (its configuration's ``COARSE_L1_ALPHA``: the coarse terms count 1.44,
  the refined 1.2), plus ``0.001 * (-E[D(composite)])`` over both critics. The reference computes its L1 terms on images in [-1, 1];
  ours are the same (``2 |a - b|`` on [0, 1] images).
* :func:`critic_loss`: ``E[D(fake)] - E[D(real)] + 10 * GP`` for each critic, the gradient norm taken over hole
  pixels (DeepFill v1).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...layers.discriminators import WGANCritic
from ...losses import discounted_l1, gradient_penalty, wgan_d_loss, wgan_g_loss

__all__ = ["CriticConfig", "GlobalLocalCritic", "LossWeights", "hole_crops", "generator_loss", "critic_loss"]


@dataclass(frozen=True)
class CriticConfig:
    """The critics (DeepFill v1): 5x5 stride-2 convs, LeakyReLU 0.2, no normalisation, a dense layer."""

    image_size: int = 256  # the generator's training size (DeepFill v1: 256)
    base: int = 64  # DeepFill v1: 64, 128, 256, 256 (global) / 512 (local)
    global_mult: tuple[int, ...] = (1, 2, 4, 4)  # DeepFill v1
    local_mult: tuple[int, ...] = (1, 2, 4, 8)  # DeepFill v1

    @property
    def local_size(self) -> int:
        """Side of the local critic's input: half the image (DeepFill v1: 128x128 boxes at 256)."""
        return self.image_size // 2


@dataclass(frozen=True)
class LossWeights:
    """DeepFill v1's loss weights (see the module docstring)."""

    hole: float = 1.2  # spatially discounted L1 on the hole, both stages
    known: float = 1.2  # L1 on known pixels, both stages
    coarse: float = 1.2  # the coarse stage's terms relative to the refined stage's (DeepFill v1: COARSE_L1_ALPHA)
    adversarial: float = 0.001  # WGAN generator term
    gamma: float = 0.9  # discount; the DeepFill v1 paper says 0.99, its authors recommend 0.9
    gp: float = 10.0  # gradient penalty weight (DeepFill v1)

    def replace(self, **kw) -> "LossWeights":
        return dataclasses.replace(self, **kw)


class GlobalLocalCritic(nn.Module):
    """The two critics; ``forward(image, valid) -> (global scores, local scores)``, each ``N``."""

    def __init__(self, config: CriticConfig):
        super().__init__()
        self.config = c = config
        self.global_critic = WGANCritic(3, tuple(c.base * m for m in c.global_mult), c.image_size)
        self.local_critic = WGANCritic(3, tuple(c.base * m for m in c.local_mult), c.local_size)

    def forward(self, image: torch.Tensor, valid: torch.Tensor):
        crop, _ = hole_crops(valid, self.config.local_size, image)
        return self.global_critic(image), self.local_critic(crop)


def _boxes(valid: torch.Tensor, min_side: int) -> list[tuple[int, int, int]]:
    """Per image ``(top, left, side)`` of the square around the hole's bounding box, inside the image."""
    h, w = valid.shape[-2:]
    out = []
    for v in valid[:, 0]:
        ys, xs = torch.nonzero(v == 0, as_tuple=True)
        if len(ys) == 0:
            cy, cx, side = h // 2, w // 2, min_side
        else:
            y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
            side = max(y1 - y0, x1 - x0, min_side)
            cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
        side = min(side, h, w)
        top = min(max(cy - side // 2, 0), h - side)
        left = min(max(cx - side // 2, 0), w - side)
        out.append((top, left, side))
    return out


def hole_crops(valid: torch.Tensor, size: int, *images: torch.Tensor):
    """Crop each of ``images`` (and the hole map) to the square around each image's hole, resized to ``size``.
    Returns ``(*crops, hole_crop)``; the crops are differentiable in the images."""
    boxes = _boxes(valid, size // 2)
    outs = []
    for img in (*images, 1 - valid):
        mode = "nearest" if img is not None and img.shape[1] == 1 else "bilinear"
        parts = [F.interpolate(img[i:i + 1, :, t:t + s, l:l + s], size=(size, size), mode=mode,
                               **({} if mode == "nearest" else {"align_corners": False}))
                 for i, (t, l, s) in enumerate(boxes)]
        outs.append(torch.cat(parts))
    return tuple(outs)


def _l1_terms(out, image, valid, w: LossWeights):
    hole = 2 * discounted_l1(out, image, valid, w.gamma)  # x2: the reference's [-1, 1] scale
    known = 2 * ((out - image).abs() * valid).mean() / valid.mean().clamp_min(1e-8)
    return hole, known


def generator_loss(model, critic: GlobalLocalCritic, image, valid, w: LossWeights, adversarial: bool = True):
    """``(loss, terms)`` of one generator step (module docstring). ``adversarial=False``: reconstruction only."""
    st = model(image, valid, return_stages=True)
    terms = {}
    hole_c, known_c = _l1_terms(st["coarse"], image, valid, w)
    terms.update(l1_hole_coarse=hole_c, l1_known_coarse=known_c)
    loss = w.coarse * (w.hole * hole_c + w.known * known_c)
    if st["refined"] is not None:
        hole_r, known_r = _l1_terms(st["refined"], image, valid, w)
        terms.update(l1_hole_refined=hole_r, l1_known_refined=known_r)
        loss = loss + w.hole * hole_r + w.known * known_r
    if adversarial and w.adversarial > 0:
        comp = valid * image + (1 - valid) * st["output"]
        adv = wgan_g_loss(list(critic(comp, valid)))
        terms["g_adversarial"] = adv
        loss = loss + w.adversarial * adv
    return loss, {k: v.detach() for k, v in terms.items()}


def critic_loss(model, critic: GlobalLocalCritic, image, valid, w: LossWeights):
    """``(loss, terms)`` of one critic step: WGAN loss of both critics + ``gp`` x the gradient penalties (hole
    pixels). Logged: ``wasserstein`` (the critics' estimate, E[D(real)] - E[D(fake)], summed) and ``gp``."""
    with torch.no_grad():
        out = model(image, valid)
    comp = valid * image + (1 - valid) * out
    real_c, fake_c, hole_c = hole_crops(valid, critic.config.local_size, image, comp)
    g, loc = critic.global_critic, critic.local_critic
    w_loss = wgan_d_loss([g(image), loc(real_c)], [g(comp), loc(fake_c)])
    gp = gradient_penalty(g, image, comp, 1 - valid) + gradient_penalty(loc, real_c, fake_c, hole_c)
    return w_loss + w.gp * gp, {"wasserstein": -w_loss.detach(), "gp": gp.detach()}
