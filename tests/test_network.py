"""The base of every paper network (``inpaintlib.network.InpaintingNet``): the memory format a network runs in.

Each class's ``memory_format`` is the one the committed speed-up measurement supports (``inpaintlib.bench.speedups``:
channels_last where it was faster for inference and a training step); the tests check that, and that the format
changes only the layout: the same outputs and gradients as NCHW to float rounding for every network, and checkpoints
that load into either format."""
from __future__ import annotations

import pytest
import torch

from inpaintlib.registry import build_model, paper_model
from inpaintlib.weights import load_checkpoint, save_checkpoint

CHANNELS_LAST = torch.channels_last


def _ci(paper: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(paper, paper_model(paper).config_cls.ci().__dict__)


def _pair(n: int = 2, size: int = 64):
    g = torch.Generator().manual_seed(1)
    image = torch.rand(n, 3, size, size, generator=g)
    valid = torch.ones(n, 1, size, size)
    valid[:, :, 16:40, 20:44] = 0
    return image, valid


@pytest.mark.parametrize("paper", ["msfef", "msanet", "deepgin", "pmrfn", "ctxattn"])
def test_channels_last_matches_nchw_in_outputs_and_gradients(paper):
    fast = _ci(paper).adopt_memory_format(CHANNELS_LAST)
    assert all(p.is_contiguous(memory_format=CHANNELS_LAST) for p in fast.parameters() if p.dim() == 4)
    slow = _ci(paper).adopt_memory_format(torch.contiguous_format)
    assert all(p.is_contiguous() for p in slow.parameters())
    slow.load_state_dict(fast.state_dict())
    image, valid = _pair()  # NCHW inputs: converted by the network's pre-hook
    out_fast, out_slow = fast(image, valid), slow(image, valid)
    assert out_fast.is_contiguous(memory_format=CHANNELS_LAST)
    torch.testing.assert_close(out_fast, out_slow, rtol=1e-4, atol=1e-5)
    out_fast.square().mean().backward()
    out_slow.square().mean().backward()
    for (name, a), b in zip(fast.named_parameters(), slow.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-6, msg=lambda m: f"{paper} {name}: {m}")


def test_each_network_runs_in_the_format_the_committed_speedups_support():
    from inpaintlib.bench.cost import measured

    rows = [r for r in measured("speedups")["rows"] if r["variant"] == "channels_last" and r["error"] is None]
    for paper in ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn"):
        speedups = [r["speedup"] for r in rows if r["paper"] == paper]
        assert len(speedups) == 2, f"{paper}: channels_last not measured for both tasks"
        expected = CHANNELS_LAST if all(v > 1 for v in speedups) else torch.contiguous_format
        net = _ci(paper)
        assert net.memory_format == expected, (paper, speedups)
        params = [p for p in net.parameters() if p.dim() == 4]
        assert all(p.is_contiguous(memory_format=expected) for p in params)


def test_a_channels_last_checkpoint_is_stored_contiguous_and_loads_into_either_format(tmp_path):
    net = _ci("ctxattn")
    save_checkpoint(tmp_path / "m.safetensors", net, {"paper": "ctxattn"})
    tensors, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert all(t.is_contiguous() for t in tensors.values())
    other = _ci("ctxattn", seed=3)
    other.load_state_dict(tensors)
    assert all(p.is_contiguous(memory_format=CHANNELS_LAST) for p in other.parameters() if p.dim() == 4)
    image, valid = _pair(1)
    with torch.no_grad():
        torch.testing.assert_close(other(image, valid), net(image, valid))


def test_the_memory_format_environment_variable_overrides_the_class_default_and_refuses_other_names(monkeypatch):
    monkeypatch.setenv("INPAINTLIB_MEMORY_FORMAT", "contiguous")
    model = _ci("ctxattn")  # a channels_last network by default
    assert model.memory_format == torch.contiguous_format
    assert all(p.is_contiguous() for p in model.parameters())
    monkeypatch.setenv("INPAINTLIB_MEMORY_FORMAT", "channels_last")
    assert _ci("pmrfn").memory_format == torch.channels_last  # an NCHW network by default
    assert _ci("pmrfn").adopt_memory_format(torch.contiguous_format).memory_format == \
        torch.contiguous_format  # an explicit choice still wins
    monkeypatch.setenv("INPAINTLIB_MEMORY_FORMAT", "nhwc")
    with pytest.raises(ValueError, match="INPAINTLIB_MEMORY_FORMAT='nhwc': expected one of"):
        _ci("ctxattn")
