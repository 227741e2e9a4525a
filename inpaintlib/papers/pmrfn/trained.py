"""The PMRFN chapter's figures and tables read from a network object (trained or not): Fig. 1 as a table of
branches x stages, the cost table, the hole inside the network stage by stage (priority vs plain partial-convolution
update), the priorities a layer of the network sees, and Fig. 2 (e, l, m). Every function returns its numbers."""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ...cost import count_macs
from ...layers.priority import inpainting_priority
from .model import N_BRANCHES, PMRFNNet

__all__ = ["branch_table", "cost_table", "network_holes", "network_holes_figure", "network_priorities",
           "fig2_trained", "side_output_figure"]


def _level(i: int) -> int:
    return N_BRANCHES - 1 - i


@torch.no_grad()
def branch_table(model: PMRFNNet, image: torch.Tensor, valid: torch.Tensor) -> pd.DataFrame:
    """Fig. 1 as a table: per branch (level l) and stage, the feature shape ``C x h x w`` after the stage's blocks,
    what follows the stage (MRF / ARF), and the share of hole left after the stage's fusion."""
    model.eval()
    t = model.trace(image, valid)
    rows = []
    for i in range(N_BRANCHES):
        row = {"level": f"l={_level(i)}", "after transition": "x".join(map(str, t["branches"][0][i].shape[1:]))}
        for s, st in enumerate(t["stages"]):
            x = st["blocks"][0][i]
            fused = "MRF" if s < len(model.fusions) and not isinstance(model.fusions[s], torch.nn.Identity) else ""
            arf = "ARF, " if (s == len(t["stages"]) - 1 and model.arf is not None) else ""
            row[f"stage {s + 1}"] = (f"{arf}{x.shape[1]}x{x.shape[2]}x{x.shape[3]}"
                                     f"{' -> ' + fused if fused else ''}, hole {1 - float(st['fused'][1][i].mean()):.0%}")
        rows.append(row)
    return pd.DataFrame(rows).set_index("level")


def _called(module: torch.nn.Module) -> list:
    """The modules a forward pass calls inside ``module``: containers (ModuleList) are opened, others kept."""
    if isinstance(module, torch.nn.ModuleList):
        return [m for child in module for m in _called(child)]
    return [module]


def cost_table(model: PMRFNNet, size: int = 256) -> tuple[pd.DataFrame, dict]:
    """Parameters and MACs (:func:`inpaintlib.cost.count_macs`, a random image with a centred 25% hole) per part
    at ``size`` x ``size``. Returns ``(table, totals)``."""
    model.eval()
    valid = torch.ones(1, 1, size, size)
    valid[..., size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 0
    parts = model.parts()
    called = {f"{name}|{k}": m for name, part in parts.items() for k, m in enumerate(_called(part))}
    macs = count_macs(model, torch.rand(1, 3, size, size), valid, parts=called)
    by_part = {name: sum(v for k, v in macs["by_part"].items() if k.split("|")[0] == name) for name in parts}
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    n = model.num_parameters()
    table = pd.DataFrame({"parameters": pd.Series(params), "share": pd.Series(params) / n,
                          f"GMACs at {size}": pd.Series(by_part) / 1e9})
    return table, {"parameters": n, "gmacs": macs["total"] / 1e9, "gmacs_feature_convs": macs["feature_convs"] / 1e9}


@torch.no_grad()
def network_holes(model: PMRFNNet, image: torch.Tensor, valid: torch.Tensor) -> pd.DataFrame:
    """Hole ratio per branch after the transitions (stage 0) and after each stage's blocks and fusion, for the
    network as configured and the same weights with the plain partial-convolution update (``priority=False``).
    Tidy: level, size, stage, rule, hole_ratio."""
    rows = []
    for prio in (True, False):
        net = PMRFNNet(dataclasses.replace(model.config, priority=prio)).eval()
        net.load_state_dict(model.state_dict())
        t = net.trace(image, valid)
        rule = "priority (Eq. 5)" if prio else "partial conv (Eq. 1)"
        for i in range(N_BRANCHES):
            vs = [t["branches"][1][i]] + [st["fused"][1][i] for st in t["stages"]]
            for s, v in enumerate(vs):
                rows.append({"level": _level(i), "size": v.shape[-1], "stage": s, "rule": rule,
                             "hole_ratio": 1.0 - float(v.mean())})
    return pd.DataFrame(rows)


def network_holes_figure(frame: pd.DataFrame, title: str) -> Figure:
    """Hole ratio per stage inside the network, one panel per branch, both update rules."""
    from .figures import shrinkage_figure
    fig = shrinkage_figure(frame)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


@torch.no_grad()
def network_priorities(model: PMRFNNet, image: torch.Tensor, valid: torch.Tensor, stage: int = 0) -> dict:
    """The priority q (Eq. 6) that the first convolution of ``stage`` sees in each branch: Eq. 7 on the lowest
    branch's features, Eq. 8 (contextual residue) on the others. ``{level: (q, valid)}`` as numpy arrays."""
    model.eval()
    t = model.trace(image, valid)
    xs, vs = t["branches"] if stage == 0 else t["stages"][stage - 1]["fused"]
    out = {}
    for i in range(N_BRANCHES):
        q = inpainting_priority(xs[i].float(), vs[i].float(), residue=i < N_BRANCHES - 1,
                                gradient=model.config.gradient)
        out[_level(i)] = (q[0, 0].numpy(), vs[i][0, 0].numpy())
    return out


@torch.no_grad()
def fig2_trained(model: PMRFNNet, image: torch.Tensor, valid: torch.Tensor, priorities: dict | None = None) -> Figure:
    """Fig. 2 (e) the result, (l) the lowest and (m) the highest branch's last features averaged over channels;
    with ``priorities`` (:func:`network_priorities`) one more panel per branch."""
    model.eval()
    t = model.trace(image, valid)
    comp = valid * image + (1 - valid) * t["output"]
    xs = t["stages"][-1]["blocks"][0]
    extra = sorted(priorities or {}, reverse=True)
    rows = 1 + (len(extra) + 3) // 4
    fig, axes = plt.subplots(rows, 4, figsize=(7.4, 2.1 * rows), squeeze=False)
    axes = axes.ravel()
    axes[0].imshow((image * valid)[0].permute(1, 2, 0).numpy())
    axes[0].set_title("(d) masked", fontsize=7)
    axes[1].imshow(comp[0].permute(1, 2, 0).clamp(0, 1).numpy())
    axes[1].set_title("(e) result", fontsize=7)
    axes[2].imshow(xs[-1].mean(1)[0].numpy(), cmap="viridis")
    axes[2].set_title(f"(l) low-res features, l=0\n({xs[-1].shape[-1]} px, channel mean)", fontsize=7)
    axes[3].imshow(xs[0].mean(1)[0].numpy(), cmap="viridis")
    axes[3].set_title(f"(m) high-res features, l=3\n({xs[0].shape[-1]} px, channel mean)", fontsize=7)
    for ax, level in zip(axes[4:], extra):
        q, v = priorities[level]
        ax.imshow(0.3 + 0.4 * v, cmap="gray", vmin=0, vmax=1)
        ax.imshow(np.ma.masked_where(q <= 0, q), cmap="plasma")
        ax.set_title(f"q in the network, l={level}\n({'Eq. 7' if level == 0 else 'Eq. 8'})", fontsize=7)
    for ax in axes[4 + len(extra):]:
        ax.axis("off")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


@torch.no_grad()
def side_output_figure(model: PMRFNNet, images: torch.Tensor, valid: torch.Tensor) -> Figure:
    """Per row one image: the masked input, the side outputs I_g^0, I_g^1, I_g^2 (Sect. 4.4, at 1/8, 1/4, 1/2 of the
    size) and the final output I_g (raw, not composited), as the losses of Eqs. 11-12 see them."""
    model.eval()
    out, side = model(images, valid, return_side=True)
    cols = [("masked", images * valid)] + [(f"side I_g^{k}", side[k]) for k in sorted(side)] + [("output I_g", out)]
    fig, axes = plt.subplots(len(images), len(cols), figsize=(1.5 * len(cols), 1.5 * len(images)), squeeze=False)
    for r in range(len(images)):
        for ax, (name, t) in zip(axes[r], cols):
            ax.imshow(t[r].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{name}\n{t.shape[-1]} px", fontsize=7)
    fig.tight_layout()
    return fig
