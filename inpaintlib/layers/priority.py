r"""Inpainting priorities and the priority-guided mask update of PMRFN (Wang et al., ICCV 2021, Sect. 4.2.1,
Eqs. 5-8), after the fill-front priorities of exemplar-based inpainting (Criminisi et al. 2004;
book/reference_implementations.md, "Exemplar-based inpainting").

Partial convolution (Eq. 1) turns every hole pixel that sees a known pixel into a known one. PMRFN lets only the
*border* pixels with a high priority

.. math::
    q = \mathrm{sum}(\mathbf M_p) \times \rho^l(\mathbf x) \qquad (6)

become known, where the common priority :math:`\mathrm{sum}(\mathbf M_p)` counts the known pixels in the window and
the resolution-specific priority is the contour striking of Criminisi et al.,

.. math::
    \rho^0(\mathbf x) = |n_p \cdot \nabla \mathbf X_p^\perp| \qquad (7) \qquad\qquad
    \rho^l(\mathbf x) = |n_p \cdot \nabla(\mathbf X_p - \mathbf X_{p\downarrow\uparrow})^\perp|,\ l \in \{1,2,3\} \qquad (8)

on the channel mean of the feature map (Eq. 7, lowest resolution) or on its contextual residue (Eq. 8, higher
resolutions). Conventions (the library's, book/conventions.md): ``valid`` is ``N x 1 x H x W``, 1 = known, 0 = hole; a
vector field is ``N x 2 x H x W`` with channel 0 the x (column, left to right) and channel 1 the y (row, top to bottom)
component. Windows are ``kernel_size`` squares centred on the pixel (stride 1, "same" padding) and, as in the
partial-convolution layer (:class:`~inpaintlib.layers.PartialConv2d`), pixels outside the image count as holes in
``sum(M_p)``.

Choices the paper leaves open (each stated where it is made):

* **Eq. 5's missing case.** Eq. 5 gives :math:`m' = 1` when :math:`m = 1` or :math:`q \ge \delta q^{max}`, and
  :math:`m' = 0` when :math:`\mathrm{sum}(\mathbf M_p) = 0`; a border pixel *below* the threshold falls in neither
  case. We complete it as "stays a hole" (:math:`m' = 0`), the only reading under which the threshold does anything.
  :math:`q^{max}` is taken per image over its border pixels, and the comparison is ``>=`` as printed (the text says
  "higher than"): with ``>=`` the pixels at :math:`q^{max}` always fill, so the hole shrinks at every update, even
  where every border priority is 0 (a flat region, where the rule falls back to Eq. 1).
* **Gradients next to the hole** (``gradient=``). ``"known"`` (default): the gradient of window :math:`p` is the mean
  of the one-sided differences between horizontally (vertically) adjacent pairs of *known* pixels inside the window;
  hole pixels never enter, so the feature map's zeros in the hole cannot fake an edge along the border, and a linear
  image gets its exact slope whatever the mask. ``"zero_filled"``: Prewitt central differences of ``X * M`` (what a
  plain gradient filter sees on a partial-convolution feature map). There the step from the features to the hole's
  zeros adds about :math:`X \nabla M`, which is parallel to :math:`n_p` and so drops out of Eq. 7 in the continuum;
  what is left differs from ``"known"`` by discretisation terms (large where X varies along a ragged border) and by
  a gradient averaged over a window partly made of zeros. Both agree away from the hole.
* **The normal** :math:`n_p` is the normalised Prewitt gradient of the valid map over the window (it points into the
  known region; the sign does not matter under :math:`|\cdot|`), with replicated edges so the image frame does not
  tilt it. Where the window's known pixels are balanced (e.g. a one-pixel hole), :math:`n_p = 0`.
* **The contextual residue** uses bilinear down/up-sampling by 2 as the paper says. With ``masked_residue=True``
  (default) both resamplings are normalised by the mask, :math:`\mathrm{down}(XM)/\mathrm{down}(M)`, so the hole's
  zeros do not leak into the residue of the known pixels beside it; ``False`` resamples ``X * M`` as written.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_valid

__all__ = ["GRADIENT_MODES", "common_priority", "hole_border", "border_normal", "feature_gradient", "isophote",
           "contour_striking", "contextual_residue", "resolution_priority", "inpainting_priority",
           "priority_mask_update", "PriorityMaskUpdate"]

GRADIENT_MODES = ("known", "zero_filled")


#: Contour striking at or below this fraction of an image's largest known feature value is float rounding, not an
#: edge (float32's resolution is 1.2e-7; the bilinear down-and-up sampling of Eq. 8 leaves a few times that).
FLAT_TOL = 1e-5


def _check_kernel(kernel_size: int) -> int:
    if not isinstance(kernel_size, int) or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd integer >= 3 (a window centred on the pixel), got {kernel_size!r}")
    return kernel_size


def _check_features(x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """``x`` (N x C x H x W float) reduced to its channel mean, as Eq. 7 prescribes; ``valid`` checked against it."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"features must be a float tensor N x C x H x W, got {got}")
    if valid is not None:
        check_valid(valid, x)
    return x.mean(dim=1, keepdim=True)


def _ones(k_h: int, k_w: int, like: torch.Tensor) -> torch.Tensor:
    return torch.ones(1, 1, k_h, k_w, dtype=like.dtype, device=like.device)


def common_priority(valid: torch.Tensor, kernel_size: int = 3) -> torch.Tensor:
    r"""The common priority :math:`\mathrm{sum}(\mathbf M_p)` of Eq. 6: the number of known pixels in the
    ``kernel_size`` window of every pixel (pixels outside the image count as holes, as in partial convolution)."""
    check_valid(valid)
    k = _check_kernel(kernel_size)
    return F.conv2d(valid, _ones(k, k, valid), padding=k // 2)


def hole_border(valid: torch.Tensor, kernel_size: int = 3) -> torch.Tensor:
    r"""The border of the hole where :math:`q` is computed (Sect. 4.2.1): :math:`m = 0` and
    :math:`0 < \mathrm{sum}(\mathbf M_p) < \Omega_p` (the upper bound holds whenever :math:`m = 0`). 0/1 map."""
    count = common_priority(valid, kernel_size)
    return ((valid == 0) & (count > 0)).to(valid.dtype)


def _prewitt(t: torch.Tensor, k: int) -> torch.Tensor:
    """Prewitt-type gradient over a ``k x k`` window with replicated edges, scaled so that a linear image gets its
    exact slope: ``d/dx = sum_{window} dx * t / (k * sum_{-h..h} dx^2)``. Returns ``N x 2 x H x W`` (x, y)."""
    h = k // 2
    offsets = torch.arange(-h, h + 1, dtype=t.dtype, device=t.device)
    wx = offsets.view(1, 1, 1, k).expand(1, 1, k, k) / (k * float((offsets ** 2).sum()))
    padded = F.pad(t, (h, h, h, h), mode="replicate")
    return torch.cat([F.conv2d(padded, wx), F.conv2d(padded, wx.transpose(2, 3))], dim=1)


def border_normal(valid: torch.Tensor, kernel_size: int = 3, eps: float = 1e-6) -> torch.Tensor:
    r"""The unit normal :math:`n_p` of the mask border computed from :math:`\mathbf M_p` (Eqs. 7-8): the normalised
    Prewitt gradient of the valid map (pointing into the known region), 0 where that gradient vanishes.
    ``N x 2 x H x W`` (x, y); non-zero only within ``kernel_size // 2`` pixels of the border."""
    check_valid(valid)
    g = _prewitt(valid, _check_kernel(kernel_size))
    norm = g.norm(dim=1, keepdim=True)
    return torch.where(norm > eps, g / norm.clamp(min=eps), torch.zeros_like(g))


def _known_pairs_gradient(xm: torch.Tensor, valid: torch.Tensor, k: int) -> torch.Tensor:
    """Mean one-sided difference over the pairs of adjacent known pixels inside each ``k x k`` window."""
    h = k // 2
    out = []
    for dim in (3, 2):  # x (along columns), then y (along rows)
        n = xm.shape[dim]
        d = xm.narrow(dim, 1, n - 1) - xm.narrow(dim, 0, n - 1)
        w = valid.narrow(dim, 1, n - 1) * valid.narrow(dim, 0, n - 1)  # both ends known
        ones = _ones(k, k - 1, xm) if dim == 3 else _ones(k - 1, k, xm)
        num = F.conv2d(F.pad(d * w, (h, h, h, h)), ones)
        den = F.conv2d(F.pad(w, (h, h, h, h)), ones)
        out.append(num / den.clamp(min=1.0))  # den is an integer count; no known pair -> 0
    return torch.cat(out, dim=1)


def feature_gradient(x: torch.Tensor, valid: torch.Tensor | None = None, *, kernel_size: int = 3,
                     gradient: str = "known") -> torch.Tensor:
    r""":math:`\nabla \mathbf X_p` of the channel mean of ``x`` over each window, ``N x 2 x H x W`` (x, y).

    ``gradient="known"`` uses only differences between known pixels (the hole never enters); ``"zero_filled"``
    applies Prewitt differences to ``X * M`` (see the module docstring). Without ``valid`` both are the same
    Prewitt gradient (replicated image edges)."""
    if gradient not in GRADIENT_MODES:
        raise ValueError(f"gradient must be one of {GRADIENT_MODES}, got {gradient!r}")
    xm = _check_features(x, valid)
    k = _check_kernel(kernel_size)
    if valid is None:
        return _prewitt(xm, k)
    valid = valid.to(xm.dtype).expand(xm.shape[0], -1, -1, -1)
    if gradient == "zero_filled":
        return _prewitt(xm * valid, k)
    return _known_pairs_gradient(xm, valid, k)


def isophote(grad: torch.Tensor) -> torch.Tensor:
    r"""The isophote :math:`\nabla \mathbf X^\perp = (-\partial_y X, \partial_x X)`: the gradient turned by 90
    degrees, i.e. the direction along which the image does not change (Criminisi et al. 2004)."""
    return torch.stack([-grad[:, 1], grad[:, 0]], dim=1)


def contour_striking(x: torch.Tensor, valid: torch.Tensor, *, kernel_size: int = 3,
                     gradient: str = "known") -> torch.Tensor:
    r"""Contour striking :math:`|n_p \cdot \nabla \mathbf X_p^\perp|` (Eq. 7) at every pixel, ``N x 1 x H x W``.

    High where an edge runs *into* the hole (its isophote is parallel to the normal), zero for an edge parallel to
    the border. The normal is non-zero only near the border."""
    g = feature_gradient(x, valid, kernel_size=kernel_size, gradient=gradient)
    n = border_normal(valid, kernel_size)
    return (n * isophote(g)).sum(dim=1, keepdim=True).abs()


def contextual_residue(x: torch.Tensor, valid: torch.Tensor | None = None, *, masked: bool = True) -> torch.Tensor:
    r"""The contextual residue :math:`\mathbf X - \mathbf X_{\downarrow\uparrow}` of Eq. 8: bilinear down-sampling
    to half size and back up (Sect. 4.2.1), per channel.

    Without ``valid`` this is the residue of the whole map (Fig. 2 c). With ``valid`` the residue is 0 in the hole;
    ``masked=True`` normalises both resamplings by the mask (:math:`\mathrm{down}(XM)/\mathrm{down}(M)`, then the
    same for up-sampling with weights :math:`\mathrm{down}(M)`) so the hole's zeros do not leak into the known
    pixels beside it; ``masked=False`` resamples ``X * M`` as written. The residue of a constant map is 0, and of a
    linear one 0 away from the image frame."""
    _check_features(x, valid)
    size, half = x.shape[-2:], (max(1, x.shape[-2] // 2), max(1, x.shape[-1] // 2))

    def resample(t, s):
        return F.interpolate(t, size=s, mode="bilinear", align_corners=False)

    if valid is None:
        return x - resample(resample(x, half), size)
    m = valid.to(x.dtype)
    if not masked:
        xm = x * m
        return (xm - resample(resample(xm, half), size)) * m
    m_down = resample(m, half)
    x_down = resample(x * m, half) / m_down.clamp(min=1e-6)
    m_up = resample(m_down, size)
    x_up = resample(x_down * m_down, size) / m_up.clamp(min=1e-6)
    return (x - x_up) * m


def resolution_priority(x: torch.Tensor, valid: torch.Tensor, *, residue: bool, kernel_size: int = 3,
                        gradient: str = "known", masked_residue: bool = True) -> torch.Tensor:
    r"""The resolution-specific priority :math:`\rho^l`: contour striking of the features (Eq. 7, the lowest
    resolution, ``residue=False``) or of their contextual residue (Eq. 8, the higher ones, ``residue=True``)."""
    check_valid(valid, x)
    feats = contextual_residue(x, valid, masked=masked_residue) if residue else x
    rho = contour_striking(feats, valid, kernel_size=kernel_size, gradient=gradient)
    # A flat region has no isophote: a priority at the features' float rounding (a constant map's priorities come
    # out at a few 1e-7 of its values, not 0; tests/test_pmrfn.py) counts as 0, so Eq. 5's threshold sees q_max = 0 and fills the whole border (Eq. 1)
    # instead of a border fraction chosen by rounding noise (our choice: FLAT_TOL of each image's largest feature).
    scale = (x * valid.to(x.dtype)).abs().flatten(1).amax(dim=1).view(-1, 1, 1, 1)
    return torch.where(rho <= FLAT_TOL * scale, torch.zeros_like(rho), rho)


def inpainting_priority(x: torch.Tensor, valid: torch.Tensor, *, residue: bool, kernel_size: int = 3,
                        gradient: str = "known", masked_residue: bool = True) -> torch.Tensor:
    r"""The priority :math:`q = \mathrm{sum}(\mathbf M_p) \times \rho^l(\mathbf x)` (Eq. 6) on the hole border,
    0 elsewhere (it is "only calculated on the border", Sect. 4.2.1). ``N x 1 x H x W``, non-negative."""
    rho = resolution_priority(x, valid, residue=residue, kernel_size=kernel_size, gradient=gradient,
                              masked_residue=masked_residue)
    count = common_priority(valid, kernel_size)
    return count * rho * hole_border(valid, kernel_size)


def priority_mask_update(valid: torch.Tensor, priority: torch.Tensor, delta: float = 0.5,
                         kernel_size: int = 3) -> torch.Tensor:
    r"""The priority-guided mask update (Eq. 5, completed):

    .. math::
        m' = \begin{cases} 1 & m = 1 \text{ or } (p \text{ on the border and } q \ge \delta\, q^{max}),\\
        0 & \text{otherwise (no known pixel in the window, or a border pixel below the threshold).}\end{cases}

    :math:`q^{max}` is the largest priority over each image's border pixels (0 if it has no border). ``delta`` is
    the paper's :math:`\delta` (0.5, Sect. 4.2.1); ``delta <= 0`` (or ``-inf``) fills every border pixel, i.e. the
    plain partial-convolution update of Eq. 1 (a one-step dilation of the known region); ``delta > 1`` is refused,
    as no pixel could pass and the hole would never shrink. A known pixel never becomes a hole."""
    check_valid(valid)
    if not isinstance(priority, torch.Tensor) or priority.shape != valid.shape:
        got = tuple(priority.shape) if isinstance(priority, torch.Tensor) else type(priority).__name__
        raise ValueError(f"priority must be a tensor of the valid map's shape {tuple(valid.shape)}, got {got}")
    if not bool(torch.isfinite(priority).all()) or bool((priority < 0).any()):
        raise ValueError("priority must be finite and non-negative (q = sum(M_p) * |n . grad^perp|, Eq. 6)")
    delta = float(delta)
    if math.isnan(delta) or delta > 1:
        raise ValueError(f"delta must be <= 1 (the paper uses 0.5); got {delta}: with delta > 1 no border pixel "
                         "could reach delta * q_max and the hole would stop shrinking")
    border = hole_border(valid, kernel_size) > 0
    if delta <= 0:
        fill = border
    else:
        q = torch.where(border, priority, torch.zeros_like(priority))
        q_max = q.flatten(1).amax(dim=1).view(-1, 1, 1, 1)
        fill = border & (q >= delta * q_max)
    return torch.where(fill, torch.ones_like(valid), valid)


class PriorityMaskUpdate(nn.Module):
    r"""One priority-guided mask update (Eqs. 5-8) for one branch: ``forward(x, valid)`` returns
    ``(new_valid, q)``, where ``x`` is the feature map the partial convolution sees. ``residue=False`` is the
    lowest-resolution branch (Eq. 7), ``residue=True`` the higher ones (Eq. 8); ``delta`` = 0.5 (Sect. 4.2.1).
    The mask is data: everything runs without gradient."""

    def __init__(self, *, residue: bool, delta: float = 0.5, kernel_size: int = 3, gradient: str = "known",
                 masked_residue: bool = True):
        super().__init__()
        if gradient not in GRADIENT_MODES:
            raise ValueError(f"gradient must be one of {GRADIENT_MODES}, got {gradient!r}")
        if float(delta) > 1:
            raise ValueError(f"delta must be <= 1 (the paper uses 0.5), got {delta}")
        self.residue, self.delta, self.kernel_size = residue, float(delta), _check_kernel(kernel_size)
        self.gradient, self.masked_residue = gradient, masked_residue

    def extra_repr(self) -> str:  # noqa: D102
        return (f"residue={self.residue}, delta={self.delta}, kernel_size={self.kernel_size}, "
                f"gradient={self.gradient!r}, masked_residue={self.masked_residue}")

    @torch.no_grad()
    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        x, valid = x.detach().float(), valid.detach().float()
        q = inpainting_priority(x, valid, residue=self.residue, kernel_size=self.kernel_size,
                                gradient=self.gradient, masked_residue=self.masked_residue)
        return priority_mask_update(valid, q, self.delta, self.kernel_size), q
