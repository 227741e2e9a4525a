"""``inpaintlib.cost``: parameter and MAC counts against hand counts; the timing helper's bookkeeping (never its
speed: timings are measured in benchmarks and the book, not asserted)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from inpaintlib.cost import count_macs, inference_time, num_parameters


class _Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.b = nn.Conv2d(8, 4, 1, bias=True)

    def forward(self, x):
        return self.b(self.a(x))


def test_counts_match_hand_counts():
    m = _Two()
    assert num_parameters(m) == 3 * 8 * 9 + 8 * 4 + 4
    macs = count_macs(m, torch.rand(2, 3, 5, 6), parts={"a": m.a, "b": m.b})
    per_image = 5 * 6 * (3 * 8 * 9 + 8 * 4)
    assert macs["feature_convs"] == 2 * per_image
    assert macs["by_part"] == {"a": 2 * 5 * 6 * 3 * 8 * 9, "b": 2 * 5 * 6 * 8 * 4}


def test_inference_time_reports_its_conditions_and_restores_the_mode():
    m = _Two().train()
    calls = []
    m.register_forward_hook(lambda *a: calls.append(m.training))
    t = inference_time(m, torch.rand(3, 3, 8, 8), repeats=4, warmup=2)
    assert len(calls) == 6 and not any(calls)  # warm-up + repeats, all in eval mode
    assert m.training  # the caller's mode is restored
    assert t["repeats"] == 4 and t["batch"] == 3 and t["threads"] == torch.get_num_threads()
    assert 0 < t["min_s"] <= t["median_s"] and t["cpu"]
    with pytest.raises(ValueError, match="repeats"):
        inference_time(m, torch.rand(1, 3, 8, 8), repeats=0)
