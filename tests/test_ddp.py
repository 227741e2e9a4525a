"""DDP: two CPU processes (gloo) launched by torchrun train like one process with the whole batch."""
from __future__ import annotations

import json
import os
import runpy
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from inpaintlib.train import TrainConfig, train


    class Net(torch.nn.Module):
        def __init__(self, seed):
            super().__init__()
            torch.manual_seed(seed)
            self.c1 = torch.nn.Conv2d(4, 8, 3, padding=1)
            self.c2 = torch.nn.Conv2d(8, 3, 3, padding=1)

        def forward(self, image, valid):
            return torch.sigmoid(self.c2(torch.relu(self.c1(torch.cat([image * valid, valid], 1)))))


    class Images(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(5)
            self.x = F.interpolate(torch.rand(12, 3, 4, 4, generator=g), size=(16, 16), mode="bilinear").clamp(0, 1)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]


    def box_mask(h, w, rng):
        m = np.ones((h, w), np.float32)
        y, x = rng.integers(0, h - 6), rng.integers(0, w - 6)
        m[y:y + 6, x:x + 6] = 0
        return m


    CFG = TrainConfig(steps=6, batch_size=4, lr=1e-2, log_every=1, ckpt_every=3, seed=1, device="cpu")


    def main(out):
        if "WORLD_SIZE" in os.environ:
            torch.set_num_threads(1)
        rank = int(os.environ.get("RANK", 0))
        seen = []

        def loss_fn(model, image, valid):
            seen.append([int(image.shape[0]), float(image.sum())])
            out = model(image, valid)
            return (out - image).abs().mean(), {}

        model = Net(seed=rank)  # different initialisations: DDP must broadcast rank 0's
        train(model, loss_fn, Images(), box_mask, CFG, os.path.join(out, "run"), progress=False)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, f"rank{rank}.safetensors"))
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            json.dump({"batches": seen, "group_left_initialised": dist.is_initialized()}, f)


    if __name__ == "__main__":
        main(sys.argv[1])
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_two_process_gloo_run_matches_single_process_full_batch(tmp_path):
    script = tmp_path / "ddp_script.py"
    script.write_text(SCRIPT)
    ddp_out, single_out = tmp_path / "ddp", tmp_path / "single"
    ddp_out.mkdir()
    single_out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    if sys.platform.startswith("linux"):  # keep gloo on the loopback interface inside containers
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(script), str(ddp_out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # the same script in this process, single-process, whole batch of 4
    ns = runpy.run_path(str(script), run_name="ddp_script")
    ns["main"](str(single_out))

    r0, r1 = load_file(ddp_out / "rank0.safetensors"), load_file(ddp_out / "rank1.safetensors")
    single = load_file(single_out / "rank0.safetensors")
    info = [json.loads((ddp_out / f"rank{r}.json").read_text()) for r in (0, 1)]
    one = json.loads((single_out / "rank0.json").read_text())

    # both ranks trained 6 steps on shards of 2; the shards differ and together make the full batch
    for r in info:
        assert [b[0] for b in r["batches"]] == [2] * 6
        assert r["group_left_initialised"]  # kept for a second train() call (a chapter's second stage)
    assert [b[0] for b in one["batches"]] == [4] * 6
    for (n0, s0), (n1, s1), (n, s) in zip(info[0]["batches"], info[1]["batches"], one["batches"]):
        assert s0 != s1 and s0 + s1 == pytest.approx(s, rel=1e-5)
    # gradients were averaged: identical weights on both ranks, equal to the single-process full-batch run
    assert r0.keys() == r1.keys() == single.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        assert torch.allclose(r0[k], single[k], atol=1e-5, rtol=1e-4), k
    # only rank 0 wrote the log and the checkpoints: one record per step, no duplicates
    steps = [json.loads(s)["step"] for s in (ddp_out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in (ddp_out / "run").iterdir()) == [
        "last.json", "last.safetensors", "metrics.jsonl", "model.json", "model.safetensors"]
    ck = json.loads((ddp_out / "run" / "last.json").read_text())
    assert ck["world_size"] == 2 and ck["step"] == 6
    # the per-step losses match the single-process run too
    single_losses = [json.loads(s)["loss"] for s in (single_out / "run" / "metrics.jsonl").read_text().splitlines()]
    ddp_losses = [json.loads(s)["loss"] for s in (ddp_out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert ddp_losses == pytest.approx(single_losses, rel=1e-4)
