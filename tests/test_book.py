"""The book end to end: every notebook of ``_toc.yml`` executed at CI scale through ``inpaintlib.reproduce`` (the
same command as ``make book``), the book built with warnings as errors, its links resolved, and every page checked
in headless Chromium (``tests/browser_check.py``).

The heavy part is marked ``book`` and runs once per session (``pytest -m book``; ``pytest -m "not book"`` skips
it). The test of the browser check itself, on a hand-made broken page, is quick and unmarked.
"""
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_check  # noqa: E402  (tests/ is not a package)

from inpaintlib.reproduce import claims  # noqa: E402

needs_chromium = pytest.mark.skipif(
    not any(shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")),
    reason="Chromium is not installed (apt-get install chromium)",
)


def toc_docs() -> list[str]:
    import yaml

    from inpaintlib.reproduce import _toc_files

    return [re.sub(r"\.(md|ipynb)$", "", f) for f in _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))]


@pytest.mark.book
def test_every_notebook_ran_at_ci_scale_and_recorded_key_numbers(built_book):
    from inpaintlib.reproduce import toc_notebooks

    state = json.loads((ROOT / "_build" / "reproduce" / "state.json").read_text())["notebooks"]
    notebooks = toc_notebooks(ROOT)
    assert notebooks, "_toc.yml lists no notebooks"
    for nb in notebooks:
        entry = state.get(nb.doc)
        assert entry is not None, f"{nb.doc} was not run by the pipeline"
        assert entry["status"] == "ok" and entry["scale"] == "ci", (nb.doc, entry.get("error"))
        assert entry["key_numbers"], f"{nb.doc} recorded no key numbers (inpaintlib.reproduce.record)"


@pytest.mark.book
def test_report_page_lists_every_notebook_with_its_run(built_book):
    from inpaintlib.reproduce import toc_notebooks

    page = (built_book / "book" / "report.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    notebooks = toc_notebooks(ROOT)
    assert notebooks, "_toc.yml lists no notebooks"
    for nb in notebooks:
        short = nb.doc.removeprefix("notebooks/")
        assert short in text, f"the report page does not list {nb.doc}"
    for column in ("status", "wall time", "scale", "commit", "key numbers"):
        assert column in text


@pytest.mark.book
def test_every_toc_page_is_built(built_book):
    docs = toc_docs()
    assert docs, "_toc.yml lists no pages"
    missing = [d for d in docs if not (built_book / f"{d}.html").is_file()]
    assert not missing, f"pages of _toc.yml missing from the built book: {missing}"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("canonical",)):
                self.links.append(a[key])


@pytest.mark.book
def test_internal_links_and_anchors_resolve(built_book):
    parsed: dict[Path, _Links] = {}

    def parse(path: Path) -> _Links:
        if path not in parsed:
            p = _Links()
            p.feed(path.read_text(errors="replace"))
            parsed[path] = p
        return parsed[path]

    broken = []
    pages = [p for p in built_book.rglob("*.html") if not p.relative_to(built_book).parts[0].startswith("_")]
    assert pages, f"no HTML pages under {built_book}"
    for page in pages:
        for link in parse(page).links:
            url = urlparse(link)
            if url.scheme or link.startswith(("//", "mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(built_book)} -> {link}")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in parse(target).ids:
                broken.append(f"{page.relative_to(built_book)} -> {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


@pytest.mark.book
@needs_chromium
def test_every_page_passes_the_browser_check_and_landing_pages_are_screenshotted(built_book):
    shots = ROOT / "_build" / "screenshots"
    problems = browser_check.check_book(built_book, shots, verbose=False)
    assert not problems, "browser check:\n" + "\n".join(problems)
    landing = [d for d in toc_docs() if d.startswith("book/")]
    assert landing, "_toc.yml lists no landing pages under book/"
    for doc in landing:
        assert (shots / ("_".join(Path(doc).parts) + ".png")).stat().st_size > 10_000, doc


@needs_chromium
def test_browser_check_reports_broken_image_raw_math_traceback_and_figureless_notebook(tmp_path):
    site = tmp_path / "html"
    (site / "notebooks" / "ch").mkdir(parents=True)
    (site / "book").mkdir()
    (site / "index.html").write_text("<html><body>redirect</body></html>")
    (site / "book" / "intro.html").write_text(
        "<html><body><article><p>Raw display math $$x^2$$ was never typeset.</p>"
        '<span class="math">\\(a+b\\)</span><img src="missing.png"></article>'
        '<script src="_static/missing.js"></script></body></html>')
    (site / "notebooks" / "ch" / "01_x.html").write_text(
        '<html><body><article><div class="cell_output"><div class="output traceback">'
        "Traceback (most recent call last):\n  ValueError: boom</div></div></article></body></html>")
    problems = browser_check.check_book(site, tmp_path / "shots", verbose=False, timeout=30)
    text = "\n".join(problems)
    assert "book/intro.html: image did not load" in text
    assert "book/intro.html: 1 math elements but no MathJax output" in text
    assert "raw TeX left in the text" in text
    assert "book/intro.html: 404 for" in text and "missing.js" in text
    assert "notebooks/ch/01_x.html: an output shows a Python traceback" in text
    assert "notebooks/ch/01_x.html: chapter notebook page shows no figure" in text
    assert (tmp_path / "shots" / "book_intro.png").is_file()


def _key_numbers() -> dict[str, dict[str, str]]:
    state = json.loads((ROOT / "_build" / "reproduce" / "state.json").read_text())["notebooks"]
    return {doc: entry.get("key_numbers", {}) for doc, entry in state.items()}


@pytest.mark.book
def test_msfef_key_numbers_satisfy_what_must_hold_at_ci_scale(built_book):
    kn = _key_numbers()
    train, arch = kn["notebooks/msfef/02_training"], kn["notebooks/msfef/01_architecture"]
    margins = {k: float(v) for k, v in train.items() if k.startswith("msfef_sample_scenes_psnr_margin_b")}
    assert len(margins) == 5, margins  # the paper's five buckets (the margins themselves: claims, below)
    from inpaintlib.papers.msfef import MSFEFConfig, MSFEFNet

    assert int(arch["msfef_params_model"]) == MSFEFNet(MSFEFConfig.paper()).num_parameters()
    ablation = kn["notebooks/msfef/04_ablation"]
    assert sum(int(ablation[f"msfef_ablation_psnr_{k}"]) for k in ("agrees", "disagrees", "cannot")) == 15


@pytest.mark.book
def test_landing_pages_show_the_glued_numbers_not_the_roles(built_book):
    kn = _key_numbers()
    page = re.sub(r"<[^>]+>", " ", (built_book / "book" / "msfef.html").read_text())
    assert "glue:" not in page and "::msfef_" not in page
    for doc, key in [("notebooks/msfef/02_training", "msfef_sample_scenes_test_psnr_last"),
                     ("notebooks/msfef/04_ablation", "msfef_table1_full_model_best_cells")]:
        assert kn[doc][key] in page, (key, kn[doc][key])


#: Each chapter's training notebook (it writes the ci checkpoint) and evaluation notebook (demo against ci): the
#: notebooks of the trained-result claims (inpaintlib.reproduce.claims; tests/test_spread.py checks their margins
#: survive a second thread count).
TRAINING_NOTEBOOKS, EVALUATION_NOTEBOOKS = claims.TRAINING, claims.EVALUATION


@pytest.mark.book
@pytest.mark.parametrize("paper", sorted(TRAINING_NOTEBOOKS))
def test_every_chapters_ci_model_learns_and_beats_mean_fill_over_the_test_pairs(built_book, paper):
    """Over all the test pairs, not bucket by bucket: a bucket of the ci test set rests on a few crops, and its
    margin moved with the seed and the thread count as much as it measured (inpaintlib.reproduce.claims)."""
    doc = TRAINING_NOTEBOOKS[paper]
    if doc not in toc_docs():
        pytest.fail(f"{doc} is not in _toc.yml: every chapter's training notebook must be in the book")
    train = _key_numbers()[doc]
    m = claims.margins({doc: train}, [paper])
    assert m[f"{paper} ci - mean fill"] > 0, train  # ahead of mean filling over every test pair together
    assert m[f"{paper} ci PSNR rise"] > 0, train  # the last logged test PSNR above the first
    per_bucket = claims.margins({doc: train}, [paper], per_bucket=True)
    assert float(train[f"{paper}_sample_scenes_min_margin_over_mean_fill_db"]) == pytest.approx(
        min(v for k, v in per_bucket.items() if k.startswith(f"{paper} ci - mean fill b")), abs=0.011)


@pytest.mark.book
def test_ctxattn_and_pmrfn_mechanisms_hold_on_the_photographs(built_book):
    kn = _key_numbers()
    ca = kn["notebooks/ctxattn/01_contextual_attention"]
    # copy-paste: every hole position points back to the source block, and hard attention pastes it exactly
    assert float(ca["ctxattn_copy_paste_hard_offset_share"]) == 1.0
    assert float(ca["ctxattn_copy_paste_hard_max_error"]) < 1e-5
    from inpaintlib.papers.ctxattn import CtxAttnConfig, CtxAttnNet

    assert int(kn["notebooks/ctxattn/02_architecture"]["ctxattn_params_paper"]) == \
        CtxAttnNet(CtxAttnConfig.paper()).num_parameters()
    pr = kn["notebooks/pmrfn/02_priorities"]
    # the contextual residue's gradients pick out more texture than the plain gradients (PMRFN Eq. 8, Fig. 2 h-k)
    assert float(pr["pmrfn_texture_share_residue"]) > float(pr["pmrfn_texture_share_plain"])
    assert 0 < int(pr["pmrfn_fig2_selected_high"]) < int(pr["pmrfn_fig2_border_pixels"])


@pytest.mark.book
def test_deepgin_table1_counts_and_the_exact_split_hold_in_the_book(built_book):
    kn = _key_numbers()
    arch = kn["notebooks/deepgin/01_architecture"]
    assert int(arch["deepgin_table1_matches"]) == 7  # every printed parameter count of Table 1, to the digit
    from inpaintlib.papers.deepgin import DeepGINConfig, DeepGINNet

    assert int(arch["deepgin_params_paper"]) == DeepGINNet(DeepGINConfig.paper()).num_parameters()
    assert float(kn["notebooks/deepgin/02_masks_and_data"]["deepgin_split_roundtrip_max_abs"]) == 0.0


@pytest.mark.book
@pytest.mark.parametrize("paper", sorted(EVALUATION_NOTEBOOKS))
def test_every_shipped_demo_model_beats_its_ci_model_over_the_test_pairs(built_book, paper):
    """Over all the pairs (per bucket the ci model's margins move too much to assert; inpaintlib.reproduce.claims)."""
    from inpaintlib.weights import Manifest

    entries = [e for e in Manifest() if e["chapter"] == paper and e["scale"] == "demo"]
    assert len(entries) == 1, f"weights/manifest.json must list exactly one demo checkpoint of {paper}"
    assert entries[0]["size"] <= 16 * 2 ** 20 and entries[0]["training"]["steps"] > 0, entries[0]
    ev = _key_numbers()[EVALUATION_NOTEBOOKS[paper]]
    gains = {k: float(v) for k, v in ev.items() if k.startswith(f"{paper}_demo_minus_ci_b")}
    assert len(gains) == 6, gains  # Liu et al.'s six buckets
    assert float(ev[f"{paper}_demo_minus_ci_min_db"]) == pytest.approx(min(gains.values()), abs=0.011)
    m = claims.margins({EVALUATION_NOTEBOOKS[paper]: ev, claims.BENCH: _key_numbers()[claims.BENCH]}, [paper])
    assert m[f"{paper} demo - ci"] > 0, ev  # over every pair of the evaluation notebook
    assert m[f"bench {paper} demo - ci"] > 0  # and over every irregular pair of the bench


@pytest.mark.book
def test_bench_landing_page_shows_its_glued_numbers(built_book):
    kn = _key_numbers()["notebooks/bench/01_quality"]
    page = re.sub(r"<[^>]+>", " ", (built_book / "book" / "bench.html").read_text())
    assert "glue:" not in page and "::bench_" not in page
    for key in ("bench_irregular_leader", "bench_irregular_cannot_tell", "bench_msanet_demo_minus_ci_min_db"):
        assert kn[key] in page, (key, kn[key])
