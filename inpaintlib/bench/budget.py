"""Where does a demo budget learn the most? Image size and width at one fixed CPU-time budget, per network.

    python -m inpaintlib.bench.budget [--papers msfef ...] [--settings "ci network" ...] [--cpu-minutes 3.5]
                                      [--threads 1] [--out notebooks/bench/measured/budget.json]

The demo models (``make demo PAPER=<chapter>``) are ci's recipe at ci's image size, trained for about 30 CPU minutes,
with a network wider than ci's (twice ci's widths) or, where that learned less, ci's own network. This sweep checks
that choice at a smaller budget: for each network, three settings get the same CPU time (``--cpu-minutes``, one
thread) with the chapter's demo recipe (its losses, discriminators, schedule and batch), each from the same seed:

* ``ci network``: ci's widths (and depth, where the wider network changes it) at ci's size;
* ``wider network``: twice ci's widths at ci's size (:data:`WIDER` where the shipped demo is ci's network: the wider
  network the demo used before);
* ``<size> px``: the shipped demo network at the other size (:data:`OTHER_SIZE`: 64 px for MSFEF, whose ci size is
  32; 32 px for the others, whose ci size is 64).

:func:`shipped_setting` says which of the first two the shipped demo is. The number of updates is set from two
probes, runs of :data:`PROBE_UNITS` and twice as many units of the same setting timed in process CPU seconds (their
difference is the cost per unit; the shorter run's remainder is the fixed start-up cost, which the budget includes); a
run that misses the budget by more than :data:`RETRY_OFF_BY` is repeated once with its units rescaled, and the CPU
time each run used is recorded. Each trained model is then scored like the demo models
(:func:`inpaintlib.chapter.demo_against_ci`): run at its training size on the ci test photographs at 64 px with the
library's irregular test masks, PSNR of the composite. One seed and a budget several times smaller than the demo's:
the ranking says which setting learns the most *early*, which need not hold at 30 minutes
(:mod:`inpaintlib.bench.demo_choice` checks a disagreement over a whole demo budget). The JSON file is rewritten
after every row; rows of settings not measured again are kept.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from ..cost import cpu_name
from ..paths import repo_root
from ..registry import paper_model

__all__ = ["OTHER_SIZE", "WIDER", "PROBE_UNITS", "settings", "shipped_setting", "train_setting", "score", "run", "budget_table",
           "budget_agreement", "budget_finding", "show_budget", "main", "DEFAULT_OUT"]

DEFAULT_OUT = Path("notebooks") / "bench" / "measured" / "budget.json"
PAPERS = ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn")
#: The size tried beside ci's (the demo models' size).
OTHER_SIZE = {"msfef": 64, "msanet": 32, "deepgin": 32, "pmrfn": 32, "ctxattn": 32}
#: Units of the probe run (a unit is one update; DeepGIN's unit is 3 warm-up updates and 1 adversarial update, the
#: demo recipe's ratio 1500 : 500).
PROBE_UNITS = 12
#: A run whose CPU time is off the budget by more than this fraction is repeated with its units rescaled.
RETRY_OFF_BY = 0.15


#: The wider network of a chapter whose shipped demo is ci's network: the demo network it replaced.
WIDER = {"pmrfn": dict(widths=(16, 32, 64, 128), stem_width=16, head_width=32, blocks_per_stage=2),
         "ctxattn": dict(base_channels=16)}


def _ci_fields(paper: str) -> dict:
    """ci's values of the fields in which ci's config and the wider network differ, the image size aside."""
    spec = paper_model(paper).config_cls
    ci, wide = spec.ci(), _wider(paper)
    return {f.name: getattr(ci, f.name) for f in dataclasses.fields(ci)
            if f.name != "image_size" and getattr(ci, f.name) != getattr(wide, f.name)}


def _wider(paper: str):
    """The wider network (twice ci's widths) at ci's size."""
    demo = paper_model(paper).config_cls.demo()
    return dataclasses.replace(demo, **WIDER[paper]) if paper in WIDER else demo


def shipped_setting(paper: str) -> str:
    """``"ci network"`` or ``"wider network"``: which of the two the shipped demo config is."""
    spec = paper_model(paper).config_cls
    demo = spec.demo()
    return "ci network" if dataclasses.replace(spec.ci(), image_size=demo.image_size) == demo else "wider network"


def settings(paper: str) -> dict[str, object]:
    """``label -> config`` of the three settings of the sweep (see the module docstring)."""
    wide, demo = _wider(paper), paper_model(paper).config_cls.demo()
    return {"ci network": dataclasses.replace(wide, **_ci_fields(paper)), "wider network": wide,
            f"{OTHER_SIZE[paper]} px": dataclasses.replace(demo, image_size=OTHER_SIZE[paper])}


def _recipe_and_trainer(paper: str, cfg, units: int, seed: int) -> tuple[object, Callable]:
    """The chapter's demo recipe for ``units`` units of ``cfg`` and ``train(cfg, recipe, dataset, out_dir)``."""
    from importlib import import_module

    mod = import_module(f"inpaintlib.papers.{paper}")
    bookkeeping = dict(steps=units, seed=seed, log_every=max(1, units // 10), eval_every=units, ckpt_every=None)
    if paper == "msfef":
        recipe = mod.notebook_recipe("demo", seed)
        recipe = dataclasses.replace(recipe, train=recipe.train.replace(**bookkeeping))
        vgg = mod.build_vgg(recipe, seed=seed)
        return recipe, lambda cfg, r, data, out: mod.train_msfef(cfg, r, data, out, vgg=vgg, progress=False,
                                                                 resume=False)
    recipe = getattr(mod, f"{paper}_training")("demo", **bookkeeping)
    if paper == "deepgin":
        recipe = dataclasses.replace(recipe, warmup_steps=3 * units)
    if paper == "ctxattn":  # the global critic's dense layer is built for the training size
        recipe = dataclasses.replace(recipe, critic=dataclasses.replace(recipe.critic, image_size=cfg.image_size))
    train = getattr(mod, f"train_{paper}")
    return recipe, lambda cfg, r, data, out: train(cfg, r, data, out, progress=False, resume=False)


def train_setting(paper: str, cfg, units: int, out_dir: Path, seed: int = 0) -> tuple[torch.nn.Module, float]:
    """Train ``cfg`` with the chapter's demo recipe for ``units`` units on the sample scenes; ``(model, CPU s)``."""
    from ..data import SampleScenes

    recipe, train = _recipe_and_trainer(paper, cfg, units, seed)
    t0 = time.process_time()
    out = train(cfg, recipe, SampleScenes("train", cfg.image_size, seed=seed), out_dir)
    model = out["main"][0] if isinstance(out, dict) else out[0]  # DeepGIN: both stages' (model, history)
    return model, time.process_time() - t0


def score(model: torch.nn.Module) -> dict:
    """PSNR (dB) of the composite by bucket and over all pairs, as :func:`inpaintlib.chapter.demo_against_ci`
    scores the demo models (64 px ci test photographs, irregular test masks, the network at its training size)."""
    from ..chapter import chapter_data, evaluate_methods
    from ..chapter.demo import DEMO_SIZE, at_training_size
    from ..metrics import Protocol

    d = chapter_data("ci", DEMO_SIZE, Protocol(metrics=("psnr",)), mask_label="demo_vs_ci")["sample_scenes"]
    table = evaluate_methods({"m": at_training_size(model.eval())}, d.test_images, d.masks, d.protocol)["m"].table
    return {str(k): float(v) for k, v in table.loc["psnr"].items()}


def _row(paper: str, label: str, cfg, cpu_s: float, seed: int, work: Path) -> dict:
    # Two probes, k and 2k units: their difference is the cost of k units without the fixed start-up cost
    _, short = train_setting(paper, cfg, PROBE_UNITS, work / f"{paper}-{label}-probe1", seed)
    _, long = train_setting(paper, cfg, 2 * PROBE_UNITS, work / f"{paper}-{label}-probe2", seed)
    per_unit = max(long - short, 0.5 * short) / PROBE_UNITS
    units = max(PROBE_UNITS, int((cpu_s - short + per_unit * PROBE_UNITS) / per_unit))
    model, used = train_setting(paper, cfg, units, work / f"{paper}-{label}", seed)
    if abs(used / cpu_s - 1) > RETRY_OFF_BY:  # the probe mispredicted (load on the other core): once more, rescaled
        units = max(PROBE_UNITS, int(units * cpu_s / used))
        model, used = train_setting(paper, cfg, units, work / f"{paper}-{label}-again", seed)
    psnr = score(model)
    return {"paper": paper, "setting": label, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "image_size": cfg.image_size,
            "parameters": sum(p.numel() for p in model.parameters()), "units": units,
            "probe_s_per_unit": per_unit, "train_cpu_s": used, "psnr_all": psnr.pop("all"),
            "psnr_by_bucket": psnr}


def _merged(out: Path | None, rows: list[dict]) -> list[dict]:
    """``rows`` after the rows of ``out`` (if it exists) whose (paper, setting) is not among them."""
    if out is None or not out.is_file():
        return rows
    new = {(r["paper"], r["setting"]) for r in rows}
    kept = [r for r in json.loads(out.read_text(encoding="utf-8")).get("rows", [])
            if (r["paper"], r["setting"]) not in new]
    return kept + rows


def run(papers=PAPERS, cpu_minutes: float = 3.5, seed: int = 0, out: Path | None = None, command: str = "",
        only: tuple[str, ...] | None = None) -> dict:
    """Every setting (or the labels in ``only``) of every network in ``papers``; the machine facts and one row per
    (network, setting), merged with the other rows already in ``out``."""
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "cpu_minutes": cpu_minutes, "seed": seed, "probe_units": PROBE_UNITS,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "load_avg_1min_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
              "command": command, "complete": False, "rows": []}
    todo = [(p, label, cfg) for p in papers for label, cfg in settings(p).items() if only is None or label in only]
    before = json.loads(out.read_text(encoding="utf-8")) if out is not None and out.is_file() else {}
    if before.get("command") and {(r["paper"], r["setting"]) for r in before.get("rows", [])} - \
            {(p, label) for p, label, _ in todo}:  # rows of earlier runs stay: the runs that measured them, in order
        result["command"] = f"{before['command']}, then {command}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="inpaintlib-budget-") as work:
        for paper, label, cfg in todo:
            row = _row(paper, label, cfg, 60 * cpu_minutes, seed, Path(work))
            rows.append(row)
            result["rows"] = _merged(out, rows)
            have = {(r["paper"], r["setting"]) for r in result["rows"]}
            result["complete"] = all((p, lab) in have for p in PAPERS for lab in settings(p))
            print(f"{paper:8} {label:14} {row['units']:5d} units {row['train_cpu_s']:6.0f} CPU s "
                  f"PSNR {row['psnr_all']:.2f} dB", flush=True)
            if out is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def budget_table(data: dict):
    """One row per (network, setting): size, parameters, updates, CPU seconds, PSNR over all pairs and by bucket,
    the PSNR behind the network's best setting, and ``shipped`` (the setting of the shipped demo network, per
    :func:`shipped_setting` now)."""
    import pandas as pd

    from .cost import LABELS

    if not data.get("rows"):
        return pd.DataFrame()
    order = {p: i for i, p in enumerate(PAPERS)}  # networks in the book's order, settings as settings() lists them
    rows = []
    for r in sorted(data["rows"], key=lambda r: (order.get(r["paper"], len(order)), _setting_rank(r["setting"]))):
        rows.append({"network": LABELS.get(r["paper"], r["paper"]), "setting": r["setting"],
                     "shipped": r["setting"] == shipped_setting(r["paper"]), "px": r["image_size"],
                     "parameters": r["parameters"], "updates": r["units"], "CPU s": r["train_cpu_s"],
                     "PSNR all": r["psnr_all"], **{f"PSNR {k}": v for k, v in r["psnr_by_bucket"].items()}})
    t = pd.DataFrame(rows).set_index(["network", "setting"])
    t["behind best (dB)"] = t.groupby(level="network")["PSNR all"].transform("max") - t["PSNR all"]
    return t


def _setting_rank(label: str) -> int:
    return {"ci network": 0, "wider network": 1}.get(label, 2)


def budget_agreement(table, tolerance_db: float = 0.1) -> tuple[int, int]:
    """``(networks whose shipped setting is best or within tolerance_db of the best, networks)``."""
    if table.empty:
        return 0, 0
    gaps = table[table["shipped"]]["behind best (dB)"]
    return int((gaps <= tolerance_db).sum()), int(table.index.get_level_values("network").nunique())


def budget_finding(table, tolerance_db: float = 0.1) -> str:
    """Per network, which setting learned the most in the budget, and whether the shipped demo setting is it (or
    within ``tolerance_db`` of it)."""
    if table.empty:
        return "Not measured yet."
    parts = []
    for net, t in table.groupby(level="network", sort=False):
        t = t.droplevel("network")
        best = t["PSNR all"].idxmax()
        shipped = t.index[t["shipped"]]
        note = ("" if best in shipped else
                f", the shipped {shipped[0]} {float(t.loc[shipped[0], 'behind best (dB)']):.2f} dB behind"
                if len(shipped) else ", the shipped setting not measured")
        parts.append(f"{net}: {best} ({t.loc[best, 'PSNR all']:.2f} dB{', shipped' if best in shipped else ''})"
                     + note)
    agree, n = budget_agreement(table, tolerance_db)
    return (f"Best setting in the budget: {'; '.join(parts)}. The shipped demo setting is best or within "
            f"{tolerance_db} dB of the best for {agree} of {n} networks.")


def show_budget(data: dict, note: str) -> None:
    """For the cost notebook: the table of :func:`budget_table`, the finding (after ``note``, when and how it was
    measured) and the key numbers ``bench_budget_cpu_minutes``, ``bench_budget_shipped_best``,
    ``bench_budget_networks`` and ``bench_demo_ci_networks`` (the networks whose demo is ci's network, by name)."""
    from IPython.display import Markdown, display

    from ..chapter import show
    from ..record import record

    from .cost import LABELS

    record("bench_demo_ci_networks", " and ".join(LABELS[p] for p in PAPERS if shipped_setting(p) == "ci network")
           or "none")
    t = budget_table(data)
    cols = ["shipped", "px", "parameters", "updates", "CPU s", "PSNR all", "behind best (dB)"]
    shown = t[cols].assign(shipped=t["shipped"].map({True: "yes", False: ""})) if not t.empty else t
    show(shown.rename(columns={"behind best (dB)": "behind (dB)"}), f"{data.get('cpu_minutes', '?')} CPU minutes per "
         "setting: PSNR (dB) over all test pairs at 64 px, and how far each setting is behind the network's best",
         digits=2)
    if not t.empty:
        agree, n = budget_agreement(t)
        record("bench_budget_cpu_minutes", data["cpu_minutes"])
        record("bench_budget_shipped_best", agree), record("bench_budget_networks", n)
    display(Markdown(f"{note}. {budget_finding(t)}"))


def main(argv=None) -> dict:  # noqa: D103
    p = argparse.ArgumentParser(prog="python -m inpaintlib.bench.budget", description=__doc__.splitlines()[0])
    p.add_argument("--papers", nargs="+", default=list(PAPERS), choices=PAPERS)
    p.add_argument("--settings", nargs="+", default=None, help="measure only these labels (e.g. \"32 px\")")
    p.add_argument("--cpu-minutes", type=float, default=3.5, help="CPU minutes per setting (default 3.5)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the demo models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python -m inpaintlib.bench.budget " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out) if args.out else repo_root() / DEFAULT_OUT
    result = run(args.papers, args.cpu_minutes, args.seed, out, command, tuple(args.settings or ()) or None)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
