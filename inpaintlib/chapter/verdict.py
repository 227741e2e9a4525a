"""Does our ordering of variants agree with the paper's? Decided pair by pair, against the spread over seeds.

For a metric, every variant gets one score per seed: its mean over the paper's hole-ratio buckets (each bucket
weighted equally, as a reader averaging the paper's row would). For a pair of variants (A, B):

* **ours** say "A above B" only when the difference of the seed means exceeds ``k`` combined standard errors,
  ``|mean_A - mean_B| > k * sqrt(s_A^2 / n_A + s_B^2 / n_B)`` (``s``: standard deviation over seeds, ``n``: seeds);
  otherwise "cannot tell". With one seed there is no spread, so nothing can be told;
* **the paper** (one run, no spread) says whichever of its two bucket means is better;
* the pair **agrees** or **disagrees** when ours can tell, and is "cannot tell at this scale" otherwise.

"Better" means higher for PSNR and SSIM, lower for L2/MSE, L1 and LPIPS.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from .text import counted

__all__ = ["HIGHER_IS_BETTER", "Verdict", "compare_to_paper"]

HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "mse": False, "l1": False, "lpips": False}
AGREES, DISAGREES, CANNOT_TELL = "agrees", "disagrees", "cannot tell at this scale"


@dataclass
class Verdict:
    """Pairwise comparison of our variant ordering with the paper's for one metric (see the module docstring).

    ``pairs``: one row per pair with ``a``, ``b``, ``ours_diff`` (A minus B, oriented so > 0 means A is better),
    ``ours_se`` (combined standard error), ``ours_says``, ``paper_diff``, ``paper_says`` and ``verdict``.
    ``scores``: per variant, our mean and std over seeds of the bucket-mean score, and the paper's bucket mean.
    """

    metric: str
    k: float
    n_seeds: int
    pairs: pd.DataFrame
    scores: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        c = self.pairs["verdict"].value_counts()
        return {v: int(c.get(v, 0)) for v in (AGREES, DISAGREES, CANNOT_TELL)}

    @property
    def criterion(self) -> str:
        return (f"A ranks above B only if the difference of the means over {counted(self.n_seeds, 'seed')} exceeds "
                f"{self.k:g} combined standard errors")

    def record(self, prefix: str) -> None:
        """Record the counts as key numbers ``<prefix>_agrees``, ``<prefix>_disagrees``, ``<prefix>_cannot``."""
        from ..record import record

        for k, n in self.counts.items():
            record(f"{prefix}_{k.split()[0]}", n)

    def pair(self, a: str, b: str) -> pd.Series:
        """The row of the pair (a, b), in either order (oriented as stored)."""
        hit = self.pairs[((self.pairs.a == a) & (self.pairs.b == b)) | ((self.pairs.a == b) & (self.pairs.b == a))]
        if hit.empty:
            raise KeyError(f"no pair ({a!r}, {b!r})")
        return hit.iloc[0]

    def text(self, scale: str, label: str) -> str:
        """One generated sentence: how many pairs agree, disagree, cannot be told."""
        c = self.counts
        n = sum(c.values())
        return (f"{label} at {scale} scale: of the {n} pairs of variants, our ordering agrees with the paper's for "
                f"{c[AGREES]}, disagrees for {c[DISAGREES]}, and cannot tell for {c[CANNOT_TELL]} "
                f"({self.criterion}).")


def _says(diff: float, tol: float, a: str, b: str) -> str:
    if math.isnan(tol) or abs(diff) <= tol:
        return "cannot tell"
    return a if diff > 0 else b


def compare_to_paper(runs: pd.DataFrame, paper: Mapping[str, Sequence[float]], metric: str, buckets: Sequence[str],
                     k: float = 2.0, higher_is_better: bool | None = None) -> Verdict:
    """Compare the variants in ``runs`` (tidy: variant, seed, metric, bucket, value) with the paper's rows
    ``paper[variant] = values per bucket`` for our ``metric``, over ``buckets`` (the paper's, in order)."""
    hib = HIGHER_IS_BETTER[metric] if higher_is_better is None else higher_is_better
    sign = 1.0 if hib else -1.0
    sub = runs[(runs.metric == metric) & runs.bucket.isin(list(buckets))]
    if sub.empty:
        raise ValueError(f"runs hold no {metric!r} values in buckets {list(buckets)}")
    per_seed = sub.groupby(["variant", "seed"])["value"].mean().unstack("seed")
    variants = [v for v in paper if v in per_seed.index]
    scores = pd.DataFrame({"ours mean": per_seed.mean(axis=1), "ours std": per_seed.std(axis=1, ddof=1),
                           "seeds": per_seed.count(axis=1)}).reindex(variants)
    scores["paper"] = [sum(paper[v]) / len(paper[v]) for v in variants]
    rows = []
    for a, b in itertools.combinations(variants, 2):
        sa, sb = scores.loc[a], scores.loc[b]
        d = sign * (sa["ours mean"] - sb["ours mean"])
        se = math.sqrt(sa["ours std"] ** 2 / sa["seeds"] + sb["ours std"] ** 2 / sb["seeds"]) \
            if min(sa["seeds"], sb["seeds"]) > 1 else float("nan")
        pdiff = sign * (sa["paper"] - sb["paper"])
        ours = _says(d, k * se, a, b)
        theirs = a if pdiff > 0 else (b if pdiff < 0 else "tie")
        verdict = CANNOT_TELL if ours == "cannot tell" or theirs == "tie" else (AGREES if ours == theirs else DISAGREES)
        rows.append({"a": a, "b": b, "ours_diff": d, "ours_se": se, "ours_says": ours, "paper_diff": pdiff,
                     "paper_says": theirs, "verdict": verdict})
    columns = ["a", "b", "ours_diff", "ours_se", "ours_says", "paper_diff", "paper_says", "verdict"]
    return Verdict(metric, k, int(per_seed.shape[1]), pd.DataFrame(rows, columns=columns), scores)
