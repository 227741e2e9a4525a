"""What a GPU run of every chapter needs beyond one update, checked on the CPU: two processes under ``torchrun`` (gloo,
the CPU's stand-in for NCCL) train like one process with the whole batch, and a run killed in the middle continues
exactly where it stopped.

Each chapter's own training function runs its **paper** network and paper recipe (layers, widths, losses,
discriminators and stages as printed), float32, two updates on images as small as the network accepts
(``tests/paper_run_script.py``). One ``torchrun`` trains the five chapters one after the other in the background (one
process group for all, as a script that trains several networks would have) while this process trains each chapter
alone, kills a forked copy of the run in the middle and resumes it. Mixed precision is ``test_amp_paths.py``'s; the toy network's DDP bookkeeping
(rank 0 alone logs and saves, the group is torn down) is ``test_ddp.py``'s.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from inpaintlib.registry import build_model

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import paper_run_script as S  # noqa: E402

REPO = HERE.parent
PAPERS = ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn")
#: The networks with BatchNorm: under DDP each process normalises over its own shard (PyTorch's SyncBatchNorm runs
#: on GPUs only), so two processes equal one only in the weights every rank shares, not in value.
BATCHNORM = {"msfef"}
#: How far the two-process losses may be from the one-process ones. CtxAttn's critics are trained with a gradient
#: penalty at random points between real and completed images, drawn by each process from its own random stream:
#: the critics' first update, and so the generator's adversarial term, differ by that draw (measured: 9e-4).
#: DeepGIN: Adam's first update moves every weight by +-lr whatever its gradient's size, so where a whole-batch
#: gradient element is as small as the float noise of summing it, one process and two step in opposite directions.
#: Measured on this test's run: 110 of DeepGIN's 242 weight tensors held elements 2 x lr apart after the three
#: updates, the main stage's second loss moved by 3.0e-4 (relative) and the completions by 1.5e-3; the first loss of
#: each stage, before any update of that stage, agreed to 1e-7.
LOSS_RTOL = {"ctxattn": 3e-3, "deepgin": 3e-3}
#: How far the completions of the one- and two-process networks may differ (largest pixel difference; DeepGIN: see
#: LOSS_RTOL).
PROBE_ATOL = {"deepgin": 1e-2}


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    if sys.platform.startswith("linux"):  # keep gloo on the loopback interface inside containers
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """Start the two-process run of every chapter; yields ``wait(paper)``, which returns that chapter's folder once
    both ranks have written it (the later chapters train on while this process checks the earlier ones)."""
    out = tmp_path_factory.mktemp("ddp")
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2", "--master_addr",
         "127.0.0.1", "--master_port", str(_free_port()), str(HERE / "paper_run_script.py"), str(out), *PAPERS],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait(paper: str) -> Path:
        done = [out / paper / f"rank{r}.json" for r in (0, 1)]  # written after the weights, atomically
        deadline = time.monotonic() + 1800
        while not all(p.is_file() for p in done) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if not all(p.is_file() for p in done):
            proc.kill()
            log, _ = proc.communicate()
            pytest.fail(f"the two-process run did not finish {paper} (exit {proc.returncode}):\n{log[-4000:]}")
        return out / paper
    yield wait
    if proc.poll() is None:
        proc.communicate(timeout=600)
    assert proc.returncode == 0


def _log(run: Path) -> list[dict]:
    return [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]


def _stage_runs(out: Path) -> list[Path]:
    """Every run folder a chapter's training wrote (DeepGIN: warm-up and main stage; MSA-Net may have two too)."""
    return sorted(p.parent for p in (out / "run").rglob("metrics.jsonl"))


def _killed_child(paper: str, out: Path, at: int) -> int:
    """Fork a copy of this process that trains ``paper`` into ``out`` and SIGKILLs itself at its ``at``-th update;
    return its wait status."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            S.kill_at(at)
            S.train_once(paper, out)
        finally:
            os._exit(1)  # reached only if the kill did not come
    return os.waitpid(pid, 0)[1]


@pytest.mark.parametrize("paper", PAPERS)
def test_paper_run_killed_and_resumed_continues_exactly_and_two_processes_train_like_one(paper, tmp_path,
                                                                                          one_thread, ddp_runs):
    ref_out, killed_out = tmp_path / "ref", tmp_path / "killed"
    # the uninterrupted single-process run, whole batch
    ref = S.train_once(paper, ref_out)
    n_updates = sum(len([r for r in _log(run) if r["kind"] == "train"]) for run in _stage_runs(ref_out))

    # a copy killed at the start of its last update (after the checkpoint of the one before), then resumed here
    status = _killed_child(paper, killed_out, n_updates)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    last = json.loads((_stage_runs(killed_out)[-1] / "last.json").read_text())
    assert last["step"] == S.STEPS - 1  # it died between the checkpoints, one update short
    resumed = S.train_once(paper, killed_out, resume=True)
    ref_sd, res_sd = ref.state_dict(), resumed.state_dict()
    assert ref_sd.keys() == res_sd.keys()
    for k in ref_sd:
        assert torch.equal(ref_sd[k], res_sd[k]), f"{paper}: {k} differs after kill and resume"
    for a, b in zip(_stage_runs(ref_out), _stage_runs(killed_out)):
        assert a.relative_to(ref_out) == b.relative_to(killed_out)
        keep = ("kind", "step", "loss", "lr")
        assert [{k: r.get(k) for k in keep} for r in _log(a)] == [{k: r.get(k) for k in keep} for r in _log(b)]

    ddp_out = ddp_runs(paper)

    # the two ranks: shards of half their batch each, identical parameters at the end
    seen = [json.loads((ddp_out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(n == S.batch(paper, 2) // 2 for rank in seen for n, _ in rank)
    assert len(seen[0]) == len(seen[1]) == n_updates
    assert all(a != b for (_, a), (_, b) in zip(*seen))  # different images on the two ranks
    r0, r1 = load_file(ddp_out / "rank0.safetensors"), load_file(ddp_out / "rank1.safetensors")
    assert r0.keys() == ref_sd.keys()
    params = {n for n, _ in ref.named_parameters()}
    for k in params:
        assert torch.equal(r0[k], r1[k]), f"{paper}: {k} differs between the ranks"
    ddp_losses = [r["loss"] for run in _stage_runs(ddp_out) for r in _log(run) if r["kind"] == "train"]
    ref_losses = [r["loss"] for run in _stage_runs(ref_out) for r in _log(run) if r["kind"] == "train"]
    assert len(ddp_losses) == len(ref_losses) == n_updates and all(map(math.isfinite, ddp_losses))
    if paper in BATCHNORM:  # per-rank statistics: the running means differ between the ranks, and from one process
        assert any(not torch.equal(r0[k], r1[k]) for k in r0.keys() - params)
        return
    # no BatchNorm: the averaged gradients of the two shards are the whole batch's, so the runs agree in value:
    # the losses, and what the trained networks fill in (Adam turns float noise in a near-zero gradient into a
    # step of up to the learning rate, so single weights may differ by that much; the completions may not)
    assert ddp_losses == pytest.approx(ref_losses, rel=LOSS_RTOL.get(paper, 1e-4), abs=1e-6)
    if paper != "ctxattn":  # before a stage's first update no Adam step has amplified anything: float noise only
        firsts = [[next(r["loss"] for r in _log(run) if r["kind"] == "train") for run in _stage_runs(o)]
                  for o in (ddp_out, ref_out)]
        assert firsts[0] == pytest.approx(firsts[1], rel=1e-5)
    ddp_model = build_model(paper)
    ddp_model.load_state_dict(r0)
    a, b = S.probe(paper, ddp_model), S.probe(paper, ref)
    diff = float((a - b).abs().max())
    assert diff < PROBE_ATOL.get(paper, 1e-3), f"{paper}: completions differ by {diff:.2e}"
