"""PartialConv2d against a direct per-window implementation of MSFEF Eqs. 1-2 (Liu et al. 2018).

The reference below is written from the equations, one output position at a time:
for the window X_p, M_p centred (or anchored) at p, with zero padding of both the features and
the mask (borders are holes),

    x'_p = W^T (X_p o M_p) sum(1)/sum(M_p) + b   if sum(M_p) > 0, else 0     (Eq. 1)
    m'_p = 1 if sum(M_p) > 0 else 0                                            (Eq. 2)

where M_p has the shape of X_p (a single-channel mask is repeated over the input channels).
"""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from inpaintlib.layers.partial_conv import PartialConv2d, maxpool_mask_update


def reference_pconv(x, valid, weight, bias, stride, padding, dilation):
    """Eqs. 1-2 evaluated window by window (float64). Returns (out N x C_out x Ho x Wo, new_valid N x 1 x Ho x Wo)."""
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    m = valid.expand(n, c, h, w)  # M_p has the same shape as X_p (MSFEF Sect. 3.1)
    xp = torch.zeros(n, c, h + 2 * padding, w + 2 * padding, dtype=torch.float64)
    mp = torch.zeros_like(xp)  # outside the image: mask 0 = hole
    xp[:, :, padding:padding + h, padding:padding + w] = x
    mp[:, :, padding:padding + h, padding:padding + w] = m
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = torch.zeros(n, c_out, ho, wo, dtype=torch.float64)
    new = torch.zeros(n, 1, ho, wo, dtype=torch.float64)
    for i in range(ho):
        rows = [i * stride + dilation * a for a in range(kh)]
        for j in range(wo):
            cols = [j * stride + dilation * b for b in range(kw)]
            X_p = xp[:, :, rows][:, :, :, cols]  # N x C x kh x kw
            M_p = mp[:, :, rows][:, :, :, cols]
            sum_m = M_p.sum(dim=(1, 2, 3))  # N
            sum_1 = float(M_p[0].numel())
            for k in range(n):
                if sum_m[k] > 0:
                    resp = (weight * (X_p[k] * M_p[k])).sum(dim=(1, 2, 3)) * (sum_1 / sum_m[k])
                    out[k, :, i, j] = resp + (bias if bias is not None else 0.0)
                    new[k, 0, i, j] = 1.0
                # else: x'_p = 0 and m'_p = 0 (already zero)
    return out, new


def _masks(kind, n, c, h, w, gen):
    """Binary masks of three kinds, so that every branch of Eq. 1 is compared with the reference.

    ``all_hole_windows``: random holes, a hole block at the border (element 0) and an all-hole
    element 1; ``scattered``: isolated hole pixels, so every window of size >= 3 keeps a known
    pixel; ``all_known``: no hole (only the image border re-normalises).
    """
    if kind == "all_known":
        return torch.ones(n, c, h, w, dtype=torch.float64)
    if kind == "scattered":
        ii, jj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        m = ((ii + jj) % 3 != 0).double().expand(n, c, h, w).clone()
        m[1, :, 0, :] = 1.0  # make the two batch elements differ
        return m
    m = (torch.rand(n, c, h, w, generator=gen, dtype=torch.float64) > 0.4).double()
    m[0, :, :4, :5] = 0.0  # a hole block touching the border: all-hole windows for the small kernels
    m[1] = 0.0  # every window all-hole, for every kernel
    return m


CONFIGS = [
    (k, s, d, pad, bias)
    for k, s, d in itertools.product((1, 3, 5, 7), (1, 2), (1, 2))
    for pad in sorted({0, d * (k - 1) // 2, 1})
    for bias in (True, False)
    if not (k == 1 and d == 2)  # dilation is meaningless for 1x1
]
SMALL_CONFIGS = [(k, s, d, pad, bias) for k, s, d, pad, bias in CONFIGS if k in (3, 5) and d * (k - 1) // 2 == pad]


@pytest.mark.parametrize("multi_channel", [False, True], ids=["single_mask", "per_channel_mask"])
@pytest.mark.parametrize("kind", ["all_hole_windows", "scattered", "all_known"])
def test_matches_per_window_reference_of_eqs_1_2(multi_channel, kind):
    gen = torch.Generator().manual_seed(0)
    n, c_in, c_out, h, w = 2, 3, 4, 13, 14
    for k, s, d, pad, bias in CONFIGS if kind == "all_hole_windows" else SMALL_CONFIGS:
        layer = PartialConv2d(c_in, c_out, k, stride=s, padding=pad, dilation=d, bias=bias,
                              multi_channel=multi_channel).double()
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64))
            if bias:
                layer.bias.copy_(torch.randn(c_out, generator=gen, dtype=torch.float64) + 3.0)  # bias far from 0
        x = torch.randn(n, c_in, h, w, generator=gen, dtype=torch.float64)
        valid = _masks(kind, n, c_in if multi_channel else 1, h, w, gen)
        out, new_valid = layer(x, valid)
        ref_out, ref_new = reference_pconv(x, valid, layer.weight.detach(), layer.bias.detach() if bias else None,
                                           s, pad, d)
        cfg = f"k={k} s={s} d={d} pad={pad} bias={bias}"
        assert out.shape == ref_out.shape, cfg
        torch.testing.assert_close(out, ref_out, rtol=1e-6, atol=1e-6, msg=cfg)
        assert new_valid.shape == (n, c_out if multi_channel else 1, *ref_out.shape[-2:]), cfg
        assert torch.equal(new_valid, ref_new.expand_as(new_valid)), cfg
        hole = ref_new.expand_as(out) == 0
        if kind == "all_hole_windows":
            assert hole.any(), cfg  # the test must see all-hole windows
            assert bool((out[hole] == 0).all()), f"all-hole windows must give exactly 0, bias included ({cfg})"
            assert bool((new_valid[hole[:, : new_valid.shape[1]]] == 0).all()), cfg
        else:
            assert not hole.any(), cfg  # no all-hole window: the other branch of the layer


def test_equals_plain_convolution_when_everything_is_known_and_no_border_is_touched():
    gen = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=0).double()
    layer = PartialConv2d(3, 5, 3, stride=2, padding=0).double()
    layer.load_state_dict(conv.state_dict())
    x = torch.randn(2, 3, 9, 9, generator=gen, dtype=torch.float64)
    out, new_valid = layer(x, torch.ones(2, 1, 9, 9, dtype=torch.float64))
    torch.testing.assert_close(out, conv(x), rtol=1e-6, atol=1e-7)
    assert bool((new_valid == 1).all())


def test_borders_count_as_holes():
    # everything known, but a padded border window sees 3 of 9 positions outside the image:
    # the response is rescaled by 9/4 at the corner and 9/6 on the edges.
    layer = PartialConv2d(1, 1, 3, padding=1, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
    x = torch.ones(1, 1, 5, 5, dtype=torch.float64)
    out, new_valid = layer(x, torch.ones(1, 1, 5, 5, dtype=torch.float64))
    # sum over the in-image part (4 pixels at a corner) times sum(1)/sum(M) = 9/4 -> 9
    torch.testing.assert_close(out, torch.full_like(out, 9.0))
    assert bool((new_valid == 1).all())


def test_all_hole_mask_gives_exact_zero_output_and_mask_even_with_bias():
    layer = PartialConv2d(3, 4, 3, padding=1, bias=True)
    with torch.no_grad():
        layer.bias.fill_(5.0)
    out, new_valid = layer(torch.randn(2, 3, 8, 8), torch.zeros(2, 1, 8, 8))
    assert bool((out == 0).all()) and bool((new_valid == 0).all())


def test_gradient_reaches_weights_and_known_inputs_but_not_the_mask(make_valid):
    gen = torch.Generator().manual_seed(2)
    layer = PartialConv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 10, 10, generator=gen, requires_grad=True)
    valid = make_valid(2, 10, 10, (3, 7, 3, 7)).requires_grad_(True)  # a mask asking for a gradient must not get one
    out, new_valid = layer(x, valid)
    assert not new_valid.requires_grad
    (out * torch.randn(out.shape, generator=gen)).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert layer.bias.grad is not None and layer.bias.grad.abs().sum() > 0
    assert x.grad is not None and x.grad[:, :, :3].abs().sum() > 0
    # hole pixels are multiplied by M = 0 before the convolution: no gradient reaches them
    assert bool((x.grad[:, :, 3:7, 3:7] == 0).all())
    assert valid.grad is None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_all_hole_windows_stay_zero_and_finite(dtype, make_valid):
    # float16 cannot hold 1e-8: a sum(1)/(sum(M) + 1e-8) ratio would be inf * 0 = NaN in all-hole windows
    layer = PartialConv2d(2, 2, 3, padding=1)
    x = torch.randn(1, 2, 6, 6)
    valid = make_valid(1, 6, 6, (0, 4, 0, 4))
    ref, ref_new = layer(x, valid)
    out, new_valid = layer.to(dtype)(x.to(dtype), valid.to(dtype))
    assert torch.isfinite(out).all()
    assert torch.equal(new_valid.float(), ref_new)
    assert bool((out[ref_new.expand_as(out) == 0] == 0).all())
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)


@pytest.mark.parametrize(
    "valid, multi_channel, match",
    [
        (torch.ones(2, 2, 8, 8), False, "shape"),  # two channels for a single-channel layer
        (torch.ones(2, 8, 8), False, "shape"),  # missing channel dimension
        (torch.ones(2, 1, 8, 8, dtype=torch.bool), False, "dtype"),
        (torch.ones(2, 1, 8, 8, dtype=torch.uint8), False, "dtype"),
        (torch.full((2, 1, 8, 8), 0.5), False, "binary"),
        (torch.ones(2, 1, 8, 7), False, "spatial size"),
        (torch.ones(3, 1, 8, 8), False, "batch size"),
        (torch.ones(2, 1, 8, 8), True, "shape"),  # per-channel layer given a single-channel mask
        (torch.ones(2, 3, 8, 8, dtype=torch.int64), True, "dtype"),
        (torch.full((2, 3, 8, 8), 0.5), True, "binary"),
        (torch.ones(2, 3, 8, 8).index_put_((torch.tensor(1),), torch.tensor(float("inf"))), True, "binary"),
        (torch.ones(2, 3, 8, 8).index_put_((torch.tensor(0),), torch.tensor(float("nan"))), True, "binary"),
        (torch.ones(2, 1, 8, 8).index_put_((torch.tensor(1),), torch.tensor(float("inf"))), False, "binary"),
        (torch.ones(2, 3, 7, 8), True, "spatial size"),
        (torch.ones(3, 3, 8, 8), True, "batch size"),
        ("not a tensor", True, "str"),
    ],
)
def test_bad_masks_raise_value_error_naming_the_problem(valid, multi_channel, match):
    layer = PartialConv2d(3, 4, 3, padding=1, multi_channel=multi_channel)
    with pytest.raises(ValueError, match=match):
        layer(torch.randn(2, 3, 8, 8), valid)


@pytest.mark.parametrize("k, s, d", [(3, 1, 1), (3, 2, 1), (5, 1, 2), (7, 2, 1), (5, 2, 2)])
@pytest.mark.parametrize("padding", [None, 0])
def test_maxpool_mask_update_equals_pconv_mask_update(k, s, d, padding):
    gen = torch.Generator().manual_seed(3)
    valid = (torch.rand(2, 1, 17, 16, generator=gen) > 0.85).float()
    valid[0, :, :6, :] = 0  # hole touching the top border
    pad = d * (k - 1) // 2 if padding is None else padding
    _, pconv_new = PartialConv2d(1, 1, k, stride=s, padding=pad, dilation=d)(torch.rand(2, 1, 17, 16), valid)
    pooled = maxpool_mask_update(valid, kernel_size=k, stride=s, padding=padding, dilation=d)
    assert pooled.shape == pconv_new.shape
    assert torch.equal(pooled, pconv_new)
    assert (pooled == 0).any() and (pooled == 1).any()


def test_maxpool_mask_update_treats_borders_as_holes(make_valid):
    valid = make_valid(1, 6, 6, (0, 2, 0, 6))  # two hole rows along the top
    new = maxpool_mask_update(valid, kernel_size=3)
    # row 0 sees rows -1 (border), 0 and 1 (holes): it stays a hole; with a border of ones it would not
    assert bool((new[0, 0, 0] == 0).all())
    assert bool((new[0, 0, 1:] == 1).all())


def test_maxpool_mask_update_rejects_bad_masks():
    with pytest.raises(ValueError, match="binary"):
        maxpool_mask_update(torch.full((1, 1, 4, 4), 0.5))
