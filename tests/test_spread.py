"""Trained results that hold on every machine, not only on the one that wrote the test.

The book's run executes every notebook with one thread (``python -m inpaintlib.reproduce`` at ci scale). Here the
training and evaluation notebooks of every chapter run again with two threads, into a folder of their own (started
in the background when the session is collected: ``conftest.THREAD_CHECK_SETTINGS``): only the
order of floating-point summations differs, which is what another machine's CPU and kernels change too. PMRFN's
notebooks pin one thread (its many small mask convolutions run much slower on two), so the same run also sets
``INPAINTLIB_MEMORY_FORMAT=channels_last``: PMRFN then runs in NHWC, another summation order (DeepGIN and CtxAttn run
in NHWC anyway; MSFEF and MSA-Net do not adopt a memory format). Every
claim the book's tests assert on a trained result (:mod:`inpaintlib.reproduce.claims`: ci model ahead of mean
filling over the test pairs, test PSNR rises, demo model ahead of ci over the pairs) must keep, in both runs, a margin
larger than ``MARGIN_FACTOR`` times what it moved between them; a thin margin fails here before it fails on a user's
machine. What moved is written to ``_build/reproduce/thread_check.json``.
"""
import json
from pathlib import Path

import pytest

from inpaintlib.files import atomic_write_text
from inpaintlib.reproduce import claims, spread

ROOT = Path(__file__).resolve().parents[1]


def test_robustness_flags_a_margin_that_moved_more_than_half_of_itself_or_changed_sign():
    a = {"x b0": 2.0, "x b1": 0.5, "x b2": 0.30, "x rise": 5.0, "only in a": 1.0}
    b = {"x b0": 1.8, "x b1": -0.1, "x b2": 0.10, "x rise": 5.1}
    thin = claims.robustness(a, b, factor=2.0)
    assert set(thin) == {"x b1", "x b2"}  # b2: 0.10 < 2 * 0.20; b1 changed sign; b0 and rise moved little
    assert "moved 0.20" in thin["x b2"]


def test_margins_assert_over_all_pairs_and_report_buckets_only_when_asked():
    kn = {claims.TRAINING["msfef"]: {"msfef_sample_scenes_psnr_margin_b0": "1.20",
                                     "msfef_sample_scenes_psnr_margin_b1": "0.40",
                                     "msfef_sample_scenes_psnr_margin_b1_extra": "9",
                                     "msfef_sample_scenes_psnr_margin_all": "0.80",
                                     "msfef_sample_scenes_test_psnr_first": "18.00",
                                     "msfef_sample_scenes_test_psnr_last": "21.50"},
          claims.EVALUATION["msfef"]: {"msfef_demo_minus_ci_b0": "0.30", "msfef_demo_minus_ci_b1": "-0.10",
                                       "msfef_demo_minus_ci_all": "0.10", "msfef_demo_minus_ci_min_db": "-0.10"},
          claims.BENCH: {"bench_msfef_demo_minus_ci_min_db": "0.25", "bench_msfef_demo_minus_ci_all_db": "0.35"}}
    asserted = {"msfef ci - mean fill": 0.8, "msfef ci PSNR rise": 3.5, "msfef demo - ci": 0.1,
                "bench msfef demo - ci": 0.35}
    assert claims.margins(kn, ["msfef"]) == asserted
    assert claims.margins(kn, ["msfef"], per_bucket=True) == {
        **asserted, "msfef ci - mean fill b0": 1.2, "msfef ci - mean fill b1": 0.4, "msfef demo - ci b0": 0.3,
        "msfef demo - ci b1": -0.1}
    assert claims.margins(kn, ["msanet"]) == {}  # no notebook of that chapter in the key numbers


def test_summary_gives_mean_spread_and_z_and_marks_which_claims_are_asserted():
    out = spread.summarise({"a": {"x demo - ci": 1.0, "x demo - ci b0": 0.2},
                            "b": {"x demo - ci": 1.2, "x demo - ci b0": -0.2},
                            "c": {"x demo - ci": 0.8}})
    assert out["x demo - ci"] == {"asserted": True, "min": 0.8, "max": 1.2, "range": 0.4, "mean": 1.0, "std": 0.2,
                                  "z": 5.0, "variants": 3}
    assert out["x demo - ci b0"]["asserted"] is False and out["x demo - ci b0"]["variants"] == 2


def test_a_variant_is_parsed_or_refused_with_the_expected_form():
    assert spread.parse_variant("t2:threads=2,seed=1") == ("t2", {"threads": 2, "seed": 1})
    assert spread.parse_variant("n:memory_format=contiguous") == ("n", {"memory_format": "contiguous"})
    for bad in ("t2", "t2:cores=2", ":threads=2", "n:memory_format=nhwc"):
        with pytest.raises(ValueError, match="NAME:KEY=VALUE|memory_format"):
            spread.parse_variant(bad)


@pytest.mark.book
def test_every_asserted_trained_margin_survives_a_second_thread_count(built_book, thread_check_run):
    # the second run (conftest.THREAD_CHECK_SETTINGS) started in the background when the session was collected
    state = json.loads((ROOT / "_build" / "reproduce" / "state.json").read_text())["notebooks"]
    book = claims.margins({doc: e.get("key_numbers", {}) for doc, e in state.items()})
    threads = {e.get("threads") for doc, e in state.items() if doc in claims.claim_notebooks()}
    assert threads == {1}, f"the book's run should use one thread per notebook, its state says {threads}"
    run, second = thread_check_run, thread_check_run["settings"]
    assert second["threads"] == 2
    assert not run["failed"], run["error"]
    other = claims.margins(run["key_numbers"])
    assert set(other) == {k for k in book if not k.startswith("bench ")} and len(other) == 5 * 3, sorted(other)
    thin = claims.robustness(book, other)
    kn_book = {doc: e.get("key_numbers", {}) for doc, e in state.items()}
    report = {  # the variants in spread.json's form: python -m inpaintlib.reproduce.spread --merge this file
        "factor": claims.MARGIN_FACTOR, "thin": thin,
        "moved": {k: round(abs(book[k] - other[k]), 2) for k in sorted(other)},
        "variants": {"book": {"settings": {"threads": 1}, "wall_s": None, "failed": None,
                              "margins": {k: round(v, 2) for k, v in claims.margins(kn_book, per_bucket=True).items()
                                          if not k.startswith("bench ")}},
                     "check": {"settings": second, "wall_s": run["wall_s"], "failed": None,
                               "margins": {k: round(v, 2) for k, v in
                                           claims.margins(run["key_numbers"], per_bucket=True).items()}}}}
    atomic_write_text(ROOT / "_build" / "reproduce" / "thread_check.json", json.dumps(report, indent=1) + "\n")
    assert not thin, "margins thinner than {:.0f}x what a second thread count moved them:\n".format(
        claims.MARGIN_FACTOR) + "\n".join(f"  {k}: {v}" for k, v in thin.items())


def test_the_report_shows_the_measured_spread_of_the_asserted_claims_only(tmp_path):
    from inpaintlib.reproduce.report import SPREAD_FILE, render_report

    assert "How much the asserted results move" not in render_report(tmp_path, [], {})  # no file, no section
    variants = {"a": {"settings": {"threads": 1}, "margins": {"x demo - ci": 1.0, "x demo - ci b0": 0.2}},
                "b": {"settings": {"seed": 1}, "margins": {"x demo - ci": 1.2, "x demo - ci b0": -0.2}},
                "c": {"settings": {"seed": 2}, "margins": {"x demo - ci": 0.8}}}
    f = tmp_path / SPREAD_FILE
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"command": "python -m inpaintlib.reproduce.spread", "cpu": "cpu", "date": "d",
                             "commit": "abc", "variants": variants,
                             "spread": spread.summarise({n: v["margins"] for n, v in variants.items()})}))
    text = render_report(tmp_path, [], {})
    assert "| x demo - ci | +1.00 | 0.20 | +0.80 | 5.0 | 3 |" in text
    assert "x demo - ci b0" not in text  # reported per bucket in the file, not asserted
    assert "1 of 1 sit at least three standard deviations above zero" in text and "b (seed=1)" in text
