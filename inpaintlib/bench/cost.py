"""What each network of the book costs, as tables for the bench's cost notebook (``notebooks/bench/02_cost``).

Every function returns a pandas DataFrame. Counted or timed here, on the machine that runs it:

* :func:`cost_table` -- parameters and multiply-accumulates (MACs) of one 256x256 image (``inpaintlib.cost``);
* :func:`latency_table` -- CPU inference time per 256x256 image (median of repeats, thread count stated);
* :func:`memory_table` -- peak memory of one 256x256 inference, measured in a fresh child process;
* :func:`training_table` -- training images/s read from the ci training logs the chapters wrote, and the demo
  training runs recorded in ``weights/manifest.json``.

Read from files: :func:`paper_figures` (what the five papers state about their cost, with their hardware),
:func:`quality_vs_cost` (the bench's quality table, ``<artifacts>/<scale>/bench/quality.csv``) and
:func:`measured` (the JSON files under ``notebooks/bench/measured/`` written by the benchmark commands).

The paper configurations are too slow for the notebook's time budget (PMRFN's alone is a 150-GMAC forward pass), so
their MACs, latency and memory are measured by ``python -m inpaintlib.bench.cost paper`` into
``notebooks/bench/measured/paper_configs.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from ..cost import count_macs, cpu_name, inference_time, num_parameters
from ..paths import artifact_dir, repo_root
from ..registry import build_model, paper_model

__all__ = ["PAPERS", "LABELS", "TRAINING_NOTEBOOKS", "MEASURED", "build", "inputs", "cost_table", "latency_table",
           "memory_table", "peak_memory", "training_rate", "training_table", "paper_figures", "quality_vs_cost",
           "measured", "measured_note", "paper_config_table", "paper_config_note", "size_table", "quality_cost_figure", "key",
           "record_column", "runtime_table", "runtime_finding", "paper_finding", "quality_finding", "measure_paper_configs", "main"]

PAPERS = ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn")
LABELS = {"msfef": "MSFEF", "msanet": "MSA-Net", "deepgin": "DeepGIN", "pmrfn": "PMRFN", "ctxattn": "CtxAttn"}
#: The notebook that trained each chapter's ci model and wrote its log.
TRAINING_NOTEBOOKS = {"msfef": "msfef/02_training", "msanet": "msanet/02_training", "deepgin": "deepgin/03_training",
                      "pmrfn": "pmrfn/03_training", "ctxattn": "ctxattn/03_training"}
#: Where the benchmark commands write their results (committed with the book).
MEASURED = Path("notebooks") / "bench" / "measured"
SIZE = 256


def _pd():
    import pandas as pd

    return pd


def build(paper: str, scale: str) -> torch.nn.Module:
    """Paper ``paper``'s network at ``scale`` ("paper", "demo", "ci"), random weights, eval mode."""
    cfg = getattr(paper_model(paper).config_cls, scale)()
    return build_model(paper, dataclasses.asdict(cfg)).eval()


def inputs(size: int = SIZE, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A random image and the 25 % centre box (``valid``: 1 = known), the input every count and timing uses."""
    image = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    valid = torch.ones(batch, 1, size, size)
    valid[..., size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 0
    return image, valid


# ------------------------------------------------------------------------------------------- counted here
def cost_table(scales=("demo", "ci"), size: int = SIZE, papers=PAPERS):
    """Parameters and GMACs per ``size`` x ``size`` image, one row per (network, config). ``gmacs`` counts every
    convolution and matrix product (a partial convolution's mask convolution included); ``gmacs_kernels`` only the
    ``nn.Conv2d`` kernels, what papers usually report (:func:`inpaintlib.cost.count_macs`)."""
    rows = []
    for paper in papers:
        for scale in scales:
            model = build(paper, scale)
            macs = count_macs(model, *inputs(size))
            rows.append({"network": LABELS[paper], "config": scale, "parameters": num_parameters(model),
                         "gmacs": macs["total"] / 1e9, "gmacs_kernels": macs["feature_convs"] / 1e9})
    return _pd().DataFrame(rows).set_index(["network", "config"])


def latency_table(scale: str = "demo", size: int = SIZE, repeats: int = 3, warmup: int = 1, papers=PAPERS):
    """CPU seconds per ``size`` x ``size`` image (batch 1, the centre box, random weights), median and min of
    ``repeats`` forward passes after ``warmup``, with torch's thread count and the processor."""
    rows = []
    for paper in papers:
        t = inference_time(build(paper, scale), *inputs(size), repeats=repeats, warmup=warmup)
        rows.append({"network": LABELS[paper], "config": scale, "s_per_image": t["median_s"], "min_s": t["min_s"],
                     "repeats": repeats, "threads": t["threads"], "cpu": t["cpu"]})
    return _pd().DataFrame(rows).set_index("network")


def _status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1))


def peak_memory(paper: str, scale: str, size: int = SIZE) -> dict:
    """In this process: resident memory (MiB) after building the network, and the increase of the peak resident
    set during one forward pass (the peak is reset through ``/proc/self/clear_refs``). Linux only; meant for a
    fresh child process started with a fixed glibc mmap threshold (see :func:`memory_table`)."""
    model = build(paper, scale)
    image, valid = inputs(size)
    with torch.no_grad():
        model(image, valid)  # a warm-up pass: the kernels' code and one-off buffers are not the pass's memory
    import gc

    gc.collect()
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
        f.write("5")  # reset VmHWM to the current RSS
    with torch.no_grad():
        model(image, valid)
    peak = _status_kb("VmHWM")
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"rss_before_mib": before / 1024, "peak_increase_mib": (peak - before) / 1024,
            "weights_mib": weights / 2 ** 20}


def memory_table(scale: str = "demo", size: int = SIZE, papers=PAPERS):
    """Peak memory of one ``size`` x ``size`` inference per network, measured in a fresh Python process
    (``python -m inpaintlib.bench.cost memory``) started with ``MALLOC_MMAP_THRESHOLD_=65536``, so that freed
    tensors go back to the system: for each network in turn, the increase of the peak resident set during one
    forward pass (after a warm-up pass; the weights are allocated before the peak is reset, so they are not
    included). NaN where /proc is unavailable (not Linux)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(torch.get_num_threads())}
    cmd = [sys.executable, "-m", "inpaintlib.bench.cost", "memory", *papers, "--scale", scale, "--size", str(size)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=repo_root())
    found = {}
    for line in res.stdout.splitlines():
        if line.startswith("{"):
            vals = json.loads(line)
            found[vals["paper"]] = vals
    rows = [{"network": LABELS[p], "config": scale, **{k: found.get(p, {}).get(k, math.nan) for k in
                                                       ("peak_increase_mib", "rss_before_mib", "weights_mib")}}
            for p in papers]
    return _pd().DataFrame(rows).set_index("network")


# ------------------------------------------------------------------------------------------- read from files
def training_rate(records: list[dict], batch: int) -> dict:
    """Images per second of a training log (:class:`inpaintlib.train.History` records): optimizer steps x batch
    over the logged time, leaving out the first logging window (warm-up) and every window that holds an
    evaluation (the log's clock runs on through evaluations)."""
    train = [r for r in records if r.get("kind") == "train"]
    evals = [int(r["step"]) for r in records if r.get("kind") == "eval"]
    steps = seconds = 0.0
    for a, b in zip(train[1:], train[2:]):
        if not any(int(a["step"]) <= s < int(b["step"]) for s in evals):
            steps += int(b["step"]) - int(a["step"])
            seconds += float(b["time"]) - float(a["time"])
    total_steps = int(train[-1]["step"]) if train else 0
    return {"steps": total_steps, "images_per_s": batch * steps / seconds if seconds > 0 else math.nan,
            "log_time_s": float(records[-1]["time"]) if records else math.nan}


def training_table(run: str = "sample_scenes", papers=PAPERS):
    """Per network: training speed of its ci run (``<artifacts>/ci/<paper>/<run>/metrics.jsonl``, image size and
    batch from the checkpoint's sidecar) and, where ``weights/manifest.json`` records one, of its demo run."""
    from ..train import History

    rows = []
    manifest = _manifest_entries()
    for paper in papers:
        d = artifact_dir(paper, "ci", create=False) / run
        row = {"network": LABELS[paper], "ci_notebook": TRAINING_NOTEBOOKS[paper]}
        side = _json(d / "model.json")
        if side and (d / "metrics.jsonl").is_file():
            batch = int(side["train_config"]["batch_size"])
            rate = training_rate(History(d).records, batch)
            row.update(ci_image_size=side["config"].get("image_size"), ci_batch=batch, ci_steps=rate["steps"],
                       ci_images_per_s=rate["images_per_s"], ci_log_s=rate["log_time_s"],
                       ci_trained=side.get("created", "")[:16].replace("T", " "))
        demo = manifest.get(f"{paper}-demo-sample-scenes", {}).get("training")
        if demo:
            row.update(demo_steps=demo.get("steps"), demo_image_size=demo.get("image_size"),
                       demo_wall_min=demo["wall_s"] / 60 if demo.get("wall_s") else math.nan,
                       demo_threads=demo.get("threads"))
        rows.append(row)
    return _pd().DataFrame(rows).set_index("network")


def _json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _manifest_entries() -> dict:
    data = _json(repo_root() / "weights" / "manifest.json")
    entries = data.get("checkpoints", []) if isinstance(data, dict) else data
    return {e.get("name"): e for e in entries if isinstance(e, dict)}


#: What the five papers state about their cost (quoted; the last field is the section or table of the paper, cited in
#: book/references.bib).
PAPER_STATEMENTS = [
    ("MSA-Net", "test time per image", "about 0.026 s", "one Titan XP (12 GB)", "Sect. 4"),
    ("MSA-Net", "training, Places2 / CelebA-HQ", "7 days / 3 days, batch 16", "one Titan XP (12 GB)", "Sect. 4"),
    ("DeepGIN", "parameters (SPDResBlk-MSSA-BP)", "42.930M", "-", "Table 1"),
    ("DeepGIN", "training, ADE20K subset (10,330 images)", "about 2.5 days", "two RTX 2080Ti", "Sects. 5.1-5.2"),
    ("DeepGIN", "training, CelebA-HQ (27,000 images)", "about 6 days", "two RTX 2080Ti", "Sects. 5.1-5.2"),
    ("PMRFN", "training", "batch 4 (time not stated; complexity and inference time in the "
     "supplementary, not available)", "one TITAN RTX (24 GB)", "Sect. 5.1"),
    ("MSFEF", "training", "120 epochs, batch 32 (hardware and time not stated)", "not stated", "Sect. 4.2"),
    ("CtxAttn", "-", "states nothing about time, memory or hardware", "not stated", "-"),
]


def paper_figures():
    """The papers' own statements about cost (:data:`PAPER_STATEMENTS`), labelled with their hardware."""
    return _pd().DataFrame(PAPER_STATEMENTS, columns=["paper", "what", "paper's figure", "paper's hardware",
                                                      "where"]).set_index(["paper", "what"])


def quality_vs_cost(cost, scale: str = "ci", metric: str = "psnr", bucket: str = "all",
                    mask_set: str = "irregular"):
    """The bench's quality table (written by ``notebooks/bench/01_quality``) joined with ``cost`` (a
    :func:`cost_table` frame): one row per (method, checkpoint) with its mean, standard error, parameters and GMACs
    (NaN for the classical methods). Raises FileNotFoundError naming the file when the table is missing."""
    path = artifact_dir("bench", scale, create=False) / "quality.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebooks/bench/01_quality at scale {scale!r} first")
    q = _pd().read_csv(path)
    q = q[(q["metric"] == metric) & (q["bucket"].astype(str) == bucket) & (q["mask_set"] == mask_set)]
    q = q[["method", "checkpoint", "mean", "se"]].copy()
    flat = cost.reset_index()
    q = q.merge(flat, how="left", left_on=["method", "checkpoint"], right_on=["network", "config"])
    return q.drop(columns=["network", "config"]).set_index(["method", "checkpoint"])


def measured(name: str) -> dict:
    """A benchmark result committed under ``notebooks/bench/measured/<name>.json`` ({} if there is none)."""
    return _json(repo_root() / MEASURED / f"{name}.json")


def measured_note(data: dict) -> str:
    """When, where and how a measured result was taken, and the command that measures it again."""
    if not data:
        return "not measured yet"
    load = data.get("load_avg_1min_before")
    return (f"measured {data.get('date', '?')[:16].replace('T', ' ')} UTC on {data.get('cpu', '?')} "
            f"({data.get('cores', '?')} cores, {data.get('threads', '?')} torch threads, torch {data.get('torch', '?')}"
            + (f", 1-minute load average {load:.2f} before the run" if isinstance(load, (int, float)) else "")
            + f"); measure again with `{data.get('command', '?')}`"
            + ("; that run was stopped before its end, so rows are missing" if data.get("complete") is False else ""))


# ------------------------------------------------------------------------------------------- for the notebook
def paper_config_table(papers=PAPERS):
    """``paper_configs.json`` (see the module docstring) as a frame, one row per network, with ``current``: whether
    the parameter count measured then equals the count of the paper configuration built now (on the meta device,
    so nothing is allocated); a False means the file is stale and must be measured again."""
    data = measured("paper_configs").get("networks", {})
    rows = []
    for paper in papers:
        if paper not in data:
            continue
        with torch.device("meta"):
            now = num_parameters(build(paper, "paper"))
        rows.append({"network": LABELS[paper], **data[paper], "current": now == data[paper]["parameters"]})
    return _pd().DataFrame(rows).set_index("network") if rows else _pd().DataFrame()


def paper_config_note(paper) -> str:
    """Where the paper configurations' numbers come from, and whether they are stale."""
    if paper.empty:
        return "Paper configurations: not measured yet (`python -m inpaintlib.bench.cost paper`)."
    stale = list(paper.index[~paper["current"]])
    return (f"Paper configurations: {measured_note(measured('paper_configs'))}. "
            + (f"**Stale:** the parameter counts of {', '.join(stale)} changed since; measure again." if stale else
               "Their parameter counts still equal those of the code that built this page."))


def size_table(live, paper):
    """Parameters (M) and GMACs per 256x256 image by config: ``live`` from :func:`cost_table`, ``paper`` from
    :func:`paper_config_table` (measured offline)."""
    pd = _pd()
    flat = live.reset_index()
    if len(paper):
        flat = pd.concat([paper.reset_index().assign(config="paper")[flat.columns], flat])
    out = flat.pivot(index="network", columns="config", values=["parameters", "gmacs"])
    out["parameters"] = out["parameters"] / 1e6
    out.columns = [f"{'M params' if a == 'parameters' else 'GMACs'} {b}" for a, b in out.columns]
    order = [f"{a} {b}" for a in ("M params", "GMACs") for b in ("paper", "demo", "ci") if f"{a} {b}" in out]
    return out.loc[[LABELS[p] for p in PAPERS if LABELS[p] in out.index], order]


def quality_cost_figure(q, metric: str = "PSNR (dB)"):
    """Quality against GMACs per 256x256 image (log scale), one point per (network, checkpoint) with its
    standard error; the classical methods (no MACs) as horizontal lines. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    nets = q[q["gmacs"].notna()].reset_index()
    markers = {"ci": "o", "demo": "s", "paper": "^"}
    for i, (name, g) in enumerate(nets.groupby("method", sort=False)):
        for _, r in g.iterrows():
            ax.errorbar(r["gmacs"], r["mean"], yerr=r["se"], fmt=markers.get(r["checkpoint"], "D"), color=f"C{i}",
                        capsize=3, label=f"{name} ({r['checkpoint']})")
    for j, (name, r) in enumerate(q[q["gmacs"].isna()].reset_index().set_index("method").iterrows()):
        ax.axhline(r["mean"], color="0.5", ls=("--", ":", "-.")[j % 3], lw=1, label=f"{name} (no network)")
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("GMACs per 256x256 image (log scale)")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def key(network: str) -> str:
    """The key-number stem of a network label: ``"MSA-Net"`` -> ``"msanet"``."""
    return network.lower().replace("-", "")


def record_column(frame, column: str, suffix: str, digits: int | None = 2, level: str | None = None) -> None:
    """Record ``frame[column]`` as ``bench_<network>_<suffix>`` per row (rows named by network, or by
    (network, config) with ``level`` the config to pick)."""
    from ..record import record

    if column not in frame.columns:  # e.g. the paper configurations, not measured yet
        return
    values = frame.xs(level, level="config")[column] if level else frame[column]
    for net, v in values.items():
        record(f"bench_{key(net)}_{suffix}", int(v) if digits is None else float(v), digits)


def runtime_table(lat, mem, paper):
    """Seconds and peak MiB per 256x256 image: ``demo`` (:func:`latency_table`, :func:`memory_table`) and, when
    measured, ``paper`` (:func:`paper_config_table`)."""
    out = lat[["s_per_image"]].rename(columns={"s_per_image": "demo s/image"})
    out["demo peak MiB"] = mem["peak_increase_mib"]
    if len(paper):
        out["paper s/image"], out["paper peak MiB"] = paper["s_per_image"], paper["peak_increase_mib"]
    return out


def runtime_finding(runtime, live) -> str:
    """The fastest and slowest demo network, and the spread of GMACs per second, as a sentence."""
    t, gm = runtime["demo s/image"], live.xs("demo", level="config")["gmacs"]
    fast, slow = t.idxmin(), t.idxmax()
    return (f"At `demo` configuration {fast} is the fastest ({t[fast]:.3f} s per image, {gm[fast]:.1f} GMACs) and "
            f"{slow} the slowest ({t[slow]:.3f} s, {gm[slow]:.1f} GMACs): {t[slow] / t[fast]:.0f} times the time for "
            f"{gm[slow] / gm[fast]:.0f} times the arithmetic. This CPU runs them at {(gm / t).min():.0f} to "
            f"{(gm / t).max():.0f} GMACs per second.")


def paper_finding(paper, train=None) -> str:
    """Our paper configurations beside the papers' printed figures (MSA-Net's time, DeepGIN's parameters), and
    the papers' training times beside our runs' (``train``: :func:`training_table`)."""
    msa = float(paper.loc["MSA-Net", "s_per_image"]) if "MSA-Net" in paper.index else math.nan
    gin = int(paper.loc["DeepGIN", "parameters"]) if "DeepGIN" in paper.index else 0
    ours = ""
    if train is not None and "ci_log_s" in train:
        ours = (f" Our `ci` runs trained for {train['ci_log_s'].min() / 60:.1f} to {train['ci_log_s'].max() / 60:.1f} "
                "minutes on this machine's CPU")
        if "demo_wall_min" in train and train["demo_wall_min"].notna().any():
            d = train["demo_wall_min"].dropna()
            span = f"{d.min():.0f}" if round(d.min()) == round(d.max()) else f"{d.min():.0f} to {d.max():.0f}"
            ours += f", the {len(d)} `demo` runs recorded in `weights/manifest.json` for {span} minutes"
        sizes = " or ".join(str(int(v)) for v in sorted(train["ci_image_size"].dropna().unique()))
        ours += f", on {sizes} px crops of a few photographs."
    return (f"MSA-Net's paper configuration takes **{msa:.3f} s** per 256x256 image on our CPU "
            f"(`paper_configs.json`), {msa / 0.026:.0f} times the paper's 0.026 s on a Titan XP GPU (Sect. 4): "
            f"different hardware, so this says what a CPU costs, not which method is faster. Our DeepGIN paper "
            f"configuration has {gin / 1e6:.3f}M parameters against the paper's 42.930M (Table 1). DeepGIN trained "
            f"for 2.5 to 6 days on two RTX 2080Ti and MSA-Net for 3 to 7 days on a Titan XP.{ours}")


def quality_finding(q) -> str:
    """The best and the cheapest network checkpoint of :func:`quality_vs_cost`, and the rank correlation."""
    nets = q[q["gmacs"].notna()]
    best, cheap = nets["mean"].idxmax(), nets["gmacs"].idxmin()
    rho = nets["mean"].corr(nets["gmacs"], method="spearman")
    return (f"The best network checkpoint here is {best[0]} ({best[1]}), {nets.loc[best, 'mean']:.2f} dB at "
            f"{nets.loc[best, 'gmacs']:.1f} GMACs; the cheapest, {cheap[0]} ({cheap[1]}), reaches "
            f"{nets.loc[cheap, 'mean']:.2f} dB at {nets.loc[cheap, 'gmacs']:.1f} GMACs. At these scales more "
            f"arithmetic {'bought' if rho > 0.5 else 'did not reliably buy'} more PSNR (Spearman rank correlation "
            f"{rho:.2f} over {len(nets)} checkpoints).")


# ------------------------------------------------------------------------------------------- the command
def measure_paper_configs(repeats: int = 3, warmup: int = 1, papers=PAPERS) -> dict:
    """Parameters, MACs, latency and peak memory of the paper configurations (what the notebook cannot afford)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cost = cost_table(("paper",), papers=papers)
    lat = latency_table("paper", repeats=repeats, warmup=warmup, papers=papers)
    mem = memory_table("paper", papers=papers)
    rows = {}
    for paper in papers:
        label = LABELS[paper]
        rows[paper] = {**cost.loc[(label, "paper")].to_dict(), "s_per_image": float(lat.loc[label, "s_per_image"]),
                       "min_s": float(lat.loc[label, "min_s"]),
                       "peak_increase_mib": float(mem.loc[label, "peak_increase_mib"])}
        rows[paper]["parameters"] = int(rows[paper]["parameters"])
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "load_avg_1min_before": load, "size": SIZE, "repeats": repeats, "warmup": warmup, "networks": rows}


def main(argv=None) -> None:  # noqa: D103
    p = argparse.ArgumentParser(prog="python -m inpaintlib.bench.cost", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("paper", help="measure the paper configurations into a JSON file")
    pp.add_argument("--out", default=str(MEASURED / "paper_configs.json"))
    pp.add_argument("--threads", type=int, default=None)
    pp.add_argument("--repeats", type=int, default=3)
    mp = sub.add_parser("memory", help="(child process of memory_table) peak memory of one network, as JSON")
    mp.add_argument("papers", nargs="+", choices=PAPERS)
    mp.add_argument("--scale", default="demo")
    mp.add_argument("--size", type=int, default=SIZE)
    args = p.parse_args(argv)
    if args.cmd == "memory":
        for paper in args.papers:
            print(json.dumps({"paper": paper, **peak_memory(paper, args.scale, args.size)}), flush=True)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    result = measure_paper_configs(args.repeats)
    result["command"] = "python -m inpaintlib.bench.cost " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out) if Path(args.out).is_absolute() else repo_root() / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
