"""The statements the book's tests assert on *trained* results, as margins read from the notebooks' key numbers.

A trained result moves between runs that should be equivalent: another thread count, another memory format, another
CPU's kernels, another seed. Training amplifies last-bit differences, so a claim such as "the ci model is ahead of
mean filling in every bucket" holds on every machine only when its margin is large against that movement. This
module is the one list of such claims, used three ways:

* ``tests/test_book.py`` asserts every margin is positive on the book's own run;
* the thread check (``tests/test_spread.py``) runs the training and evaluation notebooks again under a second thread
  count and asserts every margin is larger than what it moved (:func:`robustness`);
* ``python -m inpaintlib.reproduce.spread`` measures the movement under threads, memory format and seeds and writes
  the spread per claim to ``notebooks/bench/measured/spread.json``.

Each claim is a name and a margin that must be positive (PSNR of the composite, dB):

* ``<paper> ci - mean fill``: the ci model minus mean filling over all the training notebook's test pairs;
* ``<paper> ci PSNR rise``: the last logged test PSNR minus the first (the model learns);
* ``<paper> demo - ci``: the shipped demo model minus the ci model over all the evaluation notebook's pairs;
* ``bench <paper> demo - ci``: the same over all the bench's irregular pairs.

Why over all the pairs and not bucket by bucket: the ci test set is 16 crops of 4 photographs, so one bucket's mean
rests on a few pairs. Measured over thread counts, memory formats and seeds (``notebooks/bench/measured/spread.json``,
4-6 runs a chapter), a per-bucket margin moved by up to 1.46 dB (standard deviation up to 0.65 dB), and 5 of the 55
sat less than three standard deviations above zero (MSFEF's demo minus ci at the smallest and the two largest holes
among them), while every margin over all the pairs sat at least 4.1 standard deviations above zero. Before DeepGIN's
and CtxAttn's ci recipes changed (``CI_MAIN_LR``, ``CI_SCHEDULE``) DeepGIN's per-bucket margins moved by up to
2.4 dB between one and two threads. The per-bucket margins are still measured and reported (:func:`margins` with
``per_bucket=True``; the notebooks state in generated text whether a model is ahead in every bucket), but no test
asserts them.
"""
from __future__ import annotations

import re
from typing import Mapping

from inpaintlib.chapter.demo import TRAINING_NOTEBOOKS

__all__ = ["TRAINING", "EVALUATION", "BENCH", "MARGIN_FACTOR", "claim_notebooks", "margins", "robustness"]

#: Each chapter's training notebook (it writes the ci checkpoint) and evaluation notebook (demo against ci).
TRAINING = TRAINING_NOTEBOOKS
EVALUATION = {"msfef": "notebooks/msfef/05_evaluation", "msanet": "notebooks/msanet/05_evaluation",
              "deepgin": "notebooks/deepgin/06_evaluation", "pmrfn": "notebooks/pmrfn/06_evaluation",
              "ctxattn": "notebooks/ctxattn/06_evaluation"}
BENCH = "notebooks/bench/01_quality"

#: The thread check's bar: each run's margin must exceed this many times what it moved between the two runs (with 1,
#: neither run's margin may be under half the other's). The bar for the measured spread over seeds, threads and
#: memory formats is higher: the mean margin at least three standard deviations above zero (``spread.json``'s ``z``).
#: Why not 2 here: two runs that diverge as much as two seeds differ by about 1.4 standard deviations on average, so a
#: factor 2 would fail a claim 3-5 standard deviations above zero in one run out of ten.
MARGIN_FACTOR = 1.0

_BUCKET = re.compile(r"_b(\d+)$")


def claim_notebooks(papers=None) -> list[str]:
    """The notebooks whose key numbers carry the claims of ``papers`` (default: all five), in run order."""
    papers = sorted(TRAINING) if papers is None else list(papers)
    return [TRAINING[p] for p in papers] + [EVALUATION[p] for p in papers]


def _buckets(kn: Mapping[str, str], prefix: str) -> dict[str, float]:
    """``{"b0": value, ...}`` for every key ``<prefix>_b<i>``, in bucket order."""
    found = {int(m.group(1)): float(v) for k, v in kn.items()
             if k.startswith(prefix + "_b") and (m := _BUCKET.search(k)) and k == f"{prefix}_b{m.group(1)}"}
    return {f"b{i}": found[i] for i in sorted(found)}


def margins(key_numbers: Mapping[str, Mapping[str, str]], papers=None,
            per_bucket: bool = False) -> dict[str, float]:
    """``claim name -> margin`` (positive when the claim holds) for every asserted claim whose notebook is in
    ``key_numbers`` (``doc -> {key: text}``, as the pipeline's state records them), limited to ``papers``. With
    ``per_bucket``, also the reported per-bucket margins (``"<claim> b<i>"``), which no test asserts."""
    papers = sorted(TRAINING) if papers is None else list(papers)
    out: dict[str, float] = {}
    for paper in papers:
        train = key_numbers.get(TRAINING[paper])
        if train is not None:
            pre = f"{paper}_sample_scenes"
            out[f"{paper} ci - mean fill"] = float(train[f"{pre}_psnr_margin_all"])
            out[f"{paper} ci PSNR rise"] = float(train[f"{pre}_test_psnr_last"]) - float(train[f"{pre}_test_psnr_first"])
            if per_bucket:
                out.update({f"{paper} ci - mean fill {b}": m
                            for b, m in _buckets(train, f"{pre}_psnr_margin").items()})
        ev = key_numbers.get(EVALUATION[paper])
        if ev is not None:
            out[f"{paper} demo - ci"] = float(ev[f"{paper}_demo_minus_ci_all"])
            if per_bucket:
                out.update({f"{paper} demo - ci {b}": m for b, m in _buckets(ev, f"{paper}_demo_minus_ci").items()})
        bench = key_numbers.get(BENCH)
        if bench is not None and f"bench_{paper}_demo_minus_ci_all_db" in bench:
            out[f"bench {paper} demo - ci"] = float(bench[f"bench_{paper}_demo_minus_ci_all_db"])
    return out


def robustness(a: Mapping[str, float], b: Mapping[str, float], factor: float = MARGIN_FACTOR) -> dict[str, str]:
    """``claim -> why it is thin`` for every claim present in both runs whose smaller margin is not positive or is
    less than ``factor`` times the difference between the runs (empty when every claim is robust)."""
    thin = {}
    for name in sorted(set(a) & set(b)):
        lo, moved = min(a[name], b[name]), abs(a[name] - b[name])
        if lo <= 0 or lo < factor * moved:
            thin[name] = f"margins {a[name]:+.2f} and {b[name]:+.2f} dB: moved {moved:.2f}, smaller margin {lo:+.2f}"
    return thin
