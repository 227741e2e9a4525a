"""The demo setting checked over a whole demo budget: checkpoints of two settings of a network, scored alike.

    python -m inpaintlib.bench.demo_choice --entry PAPER SETTING CHECKPOINT MANIFEST [--entry ...]
                                           [--out notebooks/bench/measured/demo_choice.json]

:mod:`inpaintlib.bench.budget` ranks settings after a few CPU minutes. Where its best setting was not the shipped
demo setting, both settings were trained over a whole demo budget by ``python -m inpaintlib.reproduce.demo`` (the
other one from a commit whose config differs only there) and are scored here the way the sweep scores
(:func:`inpaintlib.bench.budget.score`: 64 px ci test photographs, the library's irregular test masks, PSNR of the
composite). Each ``--entry`` names a checkpoint and the manifest that lists it; its steps, CPU and wall time and
commit are read from the manifest entry with the checkpoint's sha256. A path ``git:COMMIT:PATH`` is read from the
repository's history (``git show``; a checkpoint's sidecar beside it), so a checkpoint that ``weights/`` no longer
ships can be scored again: ``--entry pmrfn "wider network" git:857a61a:weights/pmrfn-demo-sample-scenes.safetensors
git:857a61a:weights/manifest.json``. Rows of other (paper, setting) pairs already in
``--out`` are kept. Which row is the shipped one is decided when the table is made: the checkpoint whose sha256
``weights/manifest.json`` lists now.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ..cost import cpu_name
from ..paths import repo_root

__all__ = ["DEFAULT_OUT", "training_info", "score_entry", "run", "choice_table", "choice_finding", "show_choice",
           "main"]

DEFAULT_OUT = Path("notebooks") / "bench" / "measured" / "demo_choice.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def training_info(checkpoint: str | os.PathLike, manifest: str | os.PathLike) -> dict:
    """``sha256``, ``steps``, ``cpu_s``, ``wall_s`` and ``commit`` of ``checkpoint`` from the entry of ``manifest``
    (a ``weights/manifest.json``) with the same sha256; ``ValueError`` when no entry has it."""
    sha = _sha256(Path(checkpoint))
    entries = json.loads(Path(manifest).read_text(encoding="utf-8")).get("checkpoints", [])
    for e in entries:
        if e.get("sha256") == sha:
            t = e.get("training") or {}
            return {"sha256": sha, "steps": t.get("steps"), "cpu_s": t.get("cpu_s"), "wall_s": t.get("wall_s"),
                    "commit": e.get("commit")}
    raise ValueError(f"{checkpoint}: no entry of {manifest} has its sha256 {sha[:12]}...; expected the manifest "
                     "that `python -m inpaintlib.reproduce.demo` wrote when it published this checkpoint")


def score_entry(paper: str, setting: str, checkpoint: str | os.PathLike, manifest: str | os.PathLike) -> dict:
    """One row: the checkpoint's training facts (:func:`training_info`) and its score (PSNR over all pairs and by
    bucket)."""
    from ..chapter.runs import load_trained
    from ..weights import read_sidecar
    from .budget import score

    info = training_info(checkpoint, manifest)
    model = load_trained(checkpoint)
    psnr = score(model)
    return {"paper": paper, "setting": setting, **info, "parameters": sum(p.numel() for p in model.parameters()),
            "image_size": (read_sidecar(checkpoint).get("config") or {}).get("image_size"),
            "psnr_all": psnr.pop("all"), "psnr_by_bucket": psnr}


def _local(spec: str, work: Path) -> Path:
    """``spec`` itself, or for ``git:COMMIT:PATH`` a copy of that file (and of a checkpoint's sidecar) under ``work``."""
    if not spec.startswith("git:"):
        return Path(spec)
    commit, _, path = spec[4:].partition(":")
    dst = work / commit / path
    dst.parent.mkdir(parents=True, exist_ok=True)
    for p in [path] + ([str(Path(path).with_suffix(".json"))] if path.endswith(".safetensors") else []):
        done = subprocess.run(["git", "show", f"{commit}:{p}"], cwd=repo_root(), capture_output=True)
        if done.returncode != 0:
            raise ValueError(f"{spec}: `git show {commit}:{p}` failed: {done.stderr.decode().strip()}")
        (work / commit / p).write_bytes(done.stdout)
    return dst


def run(entries: list[tuple[str, str, str, str]], out: Path | None = None, command: str = "") -> dict:
    """Score every ``(paper, setting, checkpoint, manifest)`` (paths or ``git:COMMIT:PATH``); rows of other pairs
    already in ``out`` are kept."""
    with tempfile.TemporaryDirectory(prefix="inpaintlib-choice-") as work:
        rows = [score_entry(paper, setting, _local(ckpt, Path(work)), _local(man, Path(work)))
                for paper, setting, ckpt, man in entries]
    new = {(r["paper"], r["setting"]) for r in rows}
    old = json.loads(out.read_text(encoding="utf-8"))["rows"] if out is not None and out.is_file() else []
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
              "torch": torch.__version__,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "command": command, "rows": [r for r in old if (r["paper"], r["setting"]) not in new] + rows}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def _shipped_sha256() -> set[str]:
    path = repo_root() / "weights" / "manifest.json"
    if not path.is_file():
        return set()
    return {e.get("sha256") for e in json.loads(path.read_text(encoding="utf-8")).get("checkpoints", [])}


def choice_table(data: dict, shipped: set[str] | None = None):
    """One row per (network, setting): shipped (its sha256 is in ``shipped``, by default the sha256s
    ``weights/manifest.json`` lists now), parameters, updates, CPU minutes, PSNR over all pairs and by bucket."""
    import pandas as pd

    from .cost import LABELS

    if not data.get("rows"):
        return pd.DataFrame()
    shipped = _shipped_sha256() if shipped is None else shipped
    rows = [{"network": LABELS.get(r["paper"], r["paper"]), "setting": r["setting"],
             "shipped": r["sha256"] in shipped, "parameters": r["parameters"], "updates": r["steps"],
             "CPU min": None if r.get("cpu_s") is None else r["cpu_s"] / 60, "PSNR all": r["psnr_all"],
             **{f"PSNR {k}": v for k, v in r["psnr_by_bucket"].items()}} for r in data["rows"]]
    return pd.DataFrame(rows).set_index(["network", "setting"])


def choice_finding(table) -> str:
    """Per network: the shipped setting's PSNR over all pairs against the other setting's, and in how many buckets
    it is ahead."""
    if table.empty:
        return "Not measured yet."
    parts = []
    for net, t in table.groupby(level="network", sort=False):
        t = t.droplevel("network")
        if t["shipped"].sum() != 1 or len(t) != 2:
            parts.append(f"{net}: {len(t)} settings, {int(t['shipped'].sum())} shipped; no comparison")
            continue
        s, o = t.index[t["shipped"]][0], t.index[~t["shipped"]][0]
        gap = float(t.loc[s, "PSNR all"] - t.loc[o, "PSNR all"])
        buckets = [c for c in t.columns if c.startswith("PSNR (")]
        ahead = int((t.loc[s, buckets] > t.loc[o, buckets]).sum())
        parts.append(f"{net}: the shipped {s} ({t.loc[s, 'updates']} updates, {t.loc[s, 'CPU min']:.0f} CPU min) "
                     f"scores {t.loc[s, 'PSNR all']:.2f} dB, {abs(gap):.2f} dB {'ahead of' if gap >= 0 else 'behind'}"
                     f" the {o} ({t.loc[o, 'updates']} updates, {t.loc[o, 'CPU min']:.0f} CPU min), ahead in "
                     f"{ahead} of {len(buckets)} buckets")
    return "Over a whole demo budget: " + "; ".join(parts) + "."


def show_choice(data: dict, note: str) -> None:
    """For the cost notebook: the table of :func:`choice_table`, the finding (after ``note``) and the key numbers
    ``bench_choice_<paper>_gain_db`` (shipped minus other, PSNR over all pairs) and ``bench_choice_summary`` (the
    finding without the note)."""
    from IPython.display import Markdown, display

    from ..chapter import show
    from ..record import record
    from .cost import LABELS

    t = choice_table(data)
    cols = ["shipped", "parameters", "updates", "CPU min", "PSNR all"]
    show(t[cols].assign(shipped=t["shipped"].map({True: "yes", False: ""})) if not t.empty else t, "Two settings over a whole demo budget: PSNR (dB) over all test pairs at "
         "64 px", digits=2)
    for paper, label in LABELS.items():
        if not t.empty and label in t.index.get_level_values("network"):
            s = t.xs(label, level="network")
            if s["shipped"].sum() == 1 and len(s) == 2:
                record(f"bench_choice_{paper}_gain_db",
                       float(s.loc[s["shipped"], "PSNR all"].iloc[0] - s.loc[~s["shipped"], "PSNR all"].iloc[0]), 2)
    finding = choice_finding(t)
    record("bench_choice_summary", finding)
    display(Markdown(f"{note}. {finding}"))


def main(argv=None) -> dict:  # noqa: D103
    p = argparse.ArgumentParser(prog="python -m inpaintlib.bench.demo_choice", description=__doc__.splitlines()[0])
    p.add_argument("--entry", nargs=4, action="append", required=True,
                   metavar=("PAPER", "SETTING", "CHECKPOINT", "MANIFEST"))
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    command = "python -m inpaintlib.bench.demo_choice " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out) if args.out else repo_root() / DEFAULT_OUT
    result = run([tuple(e) for e in args.entry], out, command)
    for r in result["rows"]:
        print(f"{r['paper']:8} {r['setting']:14} {r['steps']} updates PSNR {r['psnr_all']:.2f} dB")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
