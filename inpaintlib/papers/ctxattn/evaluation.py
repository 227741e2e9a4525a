"""Table I at our scales (notebook 6): the methods compared on the same pairs, and ours beside the paper's table."""
from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd

from ...chapter import checkpoint_path, load_trained, predictor, shipped_checkpoints
from ...classical import biharmonic, mean_fill
from .tables import PAPER_TABLE1, TABLE1_COLUMNS

__all__ = ["methods_for", "table1_frames", "METRIC_ROWS"]

#: our metric names -> Table I's row names
METRIC_ROWS = {"psnr": "PSNR", "ssim": "SSIM", "l1": "L1 (%)"}


def methods_for(scale: str, run: str = "sample_scenes") -> tuple[str, dict[str, Callable]]:
    """``(our label, name -> predict)``: our trained network (the checkpoint ``03_training`` wrote for ``run``, the
    dataset's name), mean filling, biharmonic inpainting, the MSFEF checkpoint shipped for ``scale`` and MSA-Net's
    (same ``run``) if its chapter has run (all at ``scale``; short names so that the completion grid's titles fit)."""
    ours = "CtxAttn"
    methods = {ours: predictor(load_trained(checkpoint_path("ctxattn", scale, run, notebook="03_training"))),
               "mean fill": mean_fill, "biharmonic": biharmonic}
    for path in shipped_checkpoints("msfef", scale):
        methods["MSFEF"] = predictor(load_trained(path))  # the shipped checkpoint
    try:
        methods["MSA-Net"] = predictor(load_trained(checkpoint_path("msanet", scale, run)))
    except FileNotFoundError as e:
        print("MSA-Net left out:", str(e)[:120])
    return ours, methods


def table1_frames(tables: Mapping[str, pd.DataFrame], bucket_labels) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(ours, paper)``: rows (metric, method), columns Table I's buckets; ours from ``EvalResult.table`` s (our
    bucket labels renamed to Table I's), the paper's as printed."""
    cols = dict(zip(bucket_labels, TABLE1_COLUMNS))
    ours = pd.concat({n: t.loc[list(METRIC_ROWS), list(cols)].rename(index=METRIC_ROWS, columns=cols)
                      for n, t in tables.items()}, names=["method", "metric"])
    paper = pd.concat({f"{m} (paper)": pd.DataFrame({k: v[m] for k, v in PAPER_TABLE1.items()},
                                                    index=list(TABLE1_COLUMNS)).T for m in PAPER_TABLE1["PSNR"]},
                      names=["method", "metric"])
    order = lambda f: f.swaplevel().sort_index(level=0, sort_remaining=False)  # noqa: E731
    return order(ours), order(paper)
