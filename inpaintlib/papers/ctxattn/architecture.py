"""The network as tables, read from the model object: parameters and multiply-accumulates by part (notebook 2)."""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from ...cost import count_macs
from .model import CtxAttnNet

__all__ = ["parts", "parameter_table", "macs_table", "layer_table", "parameter_derivation"]


def parts(model: CtxAttnNet) -> dict[str, nn.Module]:
    """The generator's parts in Fig. 1's order (those that exist in this configuration)."""
    named = {"stage 1: coarse network": model.coarse,
             "stage 2: dilated-conv branch": getattr(model, "conv_branch", None),
             "stage 2: attention branch, convs before": getattr(model, "att_pre", None),
             "stage 2: contextual attention layer": getattr(model, "ctx_attention", None),
             "stage 2: attention branch, convs after": getattr(model, "att_post", None),
             "stage 2: decoder": getattr(model, "refine_dec", None)}
    return {k: m for k, m in named.items() if m is not None}


def parameter_table(model: CtxAttnNet) -> pd.DataFrame:
    """Parameters per part and the share of the whole."""
    t = pd.DataFrame([{"part": k, "parameters": sum(p.numel() for p in m.parameters())}
                      for k, m in parts(model).items()]).set_index("part")
    t["share"] = t["parameters"] / t["parameters"].sum()
    return t


def macs_table(model: CtxAttnNet, size: int = 256) -> dict:
    """MACs of one forward pass at ``size`` with a centred box hole of 25% (``inpaintlib.cost.count_macs``): the
    total, the convolution kernels alone, and the split by :func:`parts`."""
    from ...masks import center_box_mask, to_tensor

    model.eval()
    return count_macs(model, torch.rand(1, 3, size, size), to_tensor([center_box_mask(size, size, area=0.25)]),
                      parts=parts(model))


def layer_table(model: CtxAttnNet) -> pd.DataFrame:
    """One row per layer (``CtxAttnNet.architecture_table``), indexed by stage and layer name."""
    return pd.DataFrame(model.architecture_table()).set_index(["stage", "layer"])


def parameter_derivation(model: CtxAttnNet) -> pd.DataFrame:
    """The parameter count derived by hand from the layer table, one row per convolution: a k x k convolution from
    ``in`` to ``out`` channels with a bias has ``k * k * in * out + out`` weights (the attention layer has none).
    Columns ``formula`` and ``parameters``, and a ``subtotal`` per stage; the notebook compares the sum with the
    module's own count (``num_parameters``), so the table and the module cannot disagree unnoticed."""
    rows = []
    for r in model.architecture_table():
        k = int(r["op"].split("conv ")[1].split("x")[0]) if "conv" in r["op"] else 0
        n = k * k * r["in"] * r["out"] + r["out"] if k else 0
        rows.append({"stage": r["stage"], "layer": r["layer"],
                     "formula": f"{k}*{k}*{r['in']}*{r['out']} + {r['out']}" if k else "no weights", "parameters": n})
    t = pd.DataFrame(rows)
    t["subtotal"] = t.groupby("stage", sort=False)["parameters"].cumsum()
    return t.set_index(["stage", "layer"])
