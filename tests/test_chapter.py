"""The chapter kit (inpaintlib.chapter) and the paper registry: behaviour every chapter relies on."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from inpaintlib.chapter import beside_paper, checkpoint_path, compare_to_paper, load_trained, run_variants
from inpaintlib.metrics import Protocol
from inpaintlib.papers.msfef import MSFEFConfig, MSFEFNet
from inpaintlib.registry import build_model, paper_model
from inpaintlib.weights import save_checkpoint

BUCKETS = ["b0", "b1"]


def _runs(means: dict[str, float], spread: float, seeds: int, metric: str = "psnr") -> pd.DataFrame:
    """Tidy runs whose per-seed bucket means are ``mean + spread * z`` with fixed z (-1, 0, 1, ...)."""
    z = np.linspace(-1, 1, seeds) if seeds > 1 else np.zeros(1)
    rows = []
    for v, m in means.items():
        for s, zz in enumerate(z):
            for b in BUCKETS:
                rows.append({"variant": v, "seed": s, "metric": metric, "bucket": b, "value": m + spread * zz})
    return pd.DataFrame(rows)


def test_verdict_agrees_disagrees_or_cannot_tell_by_the_seed_spread():
    paper = {"A": (30.0, 28.0), "B": (25.0, 23.0), "C": (20.0, 18.0)}  # paper order: A > B > C
    clear = compare_to_paper(_runs({"A": 30, "B": 25, "C": 27}, 0.1, 3), paper, "psnr", BUCKETS)
    by_pair = {(r.a, r.b): r.verdict for r in clear.pairs.itertuples()}
    assert by_pair == {("A", "B"): "agrees", ("A", "C"): "agrees", ("B", "C"): "disagrees"}
    noisy = compare_to_paper(_runs({"A": 30, "B": 25, "C": 27}, 10.0, 3), paper, "psnr", BUCKETS)
    assert set(noisy.pairs.verdict) == {"cannot tell at this scale"}
    one_seed = compare_to_paper(_runs({"A": 30, "B": 25, "C": 27}, 0.0, 1), paper, "psnr", BUCKETS)
    assert set(one_seed.pairs.verdict) == {"cannot tell at this scale"}  # no spread, nothing can be told
    assert "agrees with the paper's for 2, disagrees for 1, and cannot tell for 0" in clear.text("ci", "PSNR")


def test_a_single_variant_gives_no_pairs_and_a_figure_that_says_so():
    alone = compare_to_paper(_runs({"A": 30}, 0.1, 1), {"A": (30.0, 28.0), "B": (25.0, 23.0)}, "psnr", BUCKETS)
    assert alone.pairs.empty and {"a", "b", "ours_diff", "verdict"} <= set(alone.pairs.columns)
    assert alone.counts.get("agrees", 0) == 0
    from inpaintlib.chapter import delta_bars
    fig = delta_bars(_runs({"A": 30}, 0.1, 1), "A", "psnr", BUCKETS, ["A"], "t", "dB")
    assert "only A was run" in fig.axes[0].texts[0].get_text()


def test_verdict_treats_lower_as_better_for_error_metrics():
    paper = {"A": (0.01, 0.02), "B": (0.03, 0.04)}  # A has the lower error: better
    v = compare_to_paper(_runs({"A": 0.01, "B": 0.03}, 0.001, 3, "mse"), paper, "mse", BUCKETS)
    assert v.pairs.iloc[0].verdict == "agrees" and v.pairs.iloc[0].ours_diff > 0


def test_beside_paper_puts_mean_and_spread_above_the_papers_row():
    runs = _runs({"A": 30.0}, 1.0, 3)
    t = beside_paper(runs, {"PSNR": {"A": (31.0, 29.0)}}, {"PSNR": "psnr"}, BUCKETS, "ci", "paper T1")["PSNR"]
    assert t.loc[("A", "ours (ci)"), "b0"] == "30.00 ± 1.00"
    assert t.loc[("A", "paper T1"), "b1"] == "29.00"


def test_checkpoint_lookup_names_the_notebook_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("INPAINTLIB_ARTIFACTS", str(tmp_path / "art"))
    with pytest.raises(FileNotFoundError, match="notebooks/msfef/02_training.py"):
        checkpoint_path("msfef", "ci")
    assert not (tmp_path / "art").exists()


def test_a_checkpoint_rebuilds_its_network_from_the_sidecar_alone(tmp_path):
    cfg = dataclasses.replace(MSFEFConfig.ci(), fusion_init=0.25)
    torch.manual_seed(0)
    net = MSFEFNet(cfg)
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, net, meta={"paper": "msfef", "config": cfg})
    back = load_trained(path)
    assert back.config == cfg and not back.training
    for (k, a), (k2, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_registry_refuses_unknown_papers_and_unknown_config_keys():
    with pytest.raises(ValueError, match="unknown paper"):
        paper_model("nope")
    with pytest.raises(ValueError, match="not_a_field"):
        build_model("msfef", {"not_a_field": 1})
    assert paper_model("msfef").size_multiple(MSFEFConfig.paper()) == 256


def test_run_variants_gives_one_row_per_variant_seed_metric_and_bucket():
    images = torch.rand(2, 3, 16, 16)
    masks = torch.ones(2, 1, 16, 16)
    masks[0, :, 2:5, 2:5] = 0  # 3.5% hole
    masks[1, :, 2:10, 2:10] = 0  # 25% hole

    class Fill(torch.nn.Module):
        def __init__(self, v):
            super().__init__()
            self.v = v

        def forward(self, image, valid):
            return torch.full_like(image, self.v)

    proto = Protocol(buckets=((0.01, 0.1), (0.2, 0.3)), metrics=("psnr", "mse"))
    runs = run_variants({"gray": lambda s: Fill(0.5), "black": lambda s: Fill(0.0)}, [0, 1], images, masks, proto,
                        progress=False)
    assert len(runs) == 2 * 2 * 2 * 3  # variants x seeds x metrics x (2 buckets + "all")
    gray = runs[(runs.variant == "gray") & (runs.metric == "mse")].value.mean()
    black = runs[(runs.variant == "black") & (runs.metric == "mse")].value.mean()
    assert gray < black  # uniform images in [0, 1]: mid-gray errs less than black


def test_every_shipped_checkpoint_rebuilds_its_network_and_inpaints():
    from inpaintlib.weights import Manifest

    man = Manifest()
    entries = [e for e in man if e.get("model")]
    assert len(entries) == len(list((man.path.parent).glob("*.safetensors")))  # nothing shipped without an entry
    for e in entries:
        path = man.path.resolve().parent.parent / e["file"]
        man.verify(e, path)
        model = load_trained(path)
        s = model.config.image_size
        valid = torch.ones(1, 1, s, s)
        valid[..., s // 4: s // 2, s // 4: s // 2] = 0
        with torch.no_grad():
            out = model(torch.rand(1, 3, s, s), valid)
        assert out.shape == (1, 3, s, s) and torch.isfinite(out).all(), e["name"]


# --- What the reader sees: tables and generated text without leftover value prints -------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _shown_cells(monkeypatch, frame: pd.DataFrame, digits: int | None) -> tuple[str, list[str]]:
    """The HTML that ``show`` displays and the text of its data cells, row by row."""
    import re

    import IPython.display
    from inpaintlib.chapter import show

    out = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: out.extend(objs))
    show(frame, "caption", digits=digits)
    html = out[-1].data
    return html, re.findall(r'<td id="[^"]*" class="data [^"]*" >(.*?)</td>', html)


def test_show_prints_missing_values_as_a_dash_booleans_as_words_and_no_negative_zero(monkeypatch):
    frame = pd.DataFrame({"psnr": [np.nan, -0.004, 21.456], "holds": [True, False, None], "note": ["a", None, "b"]},
                         index=["x", "y", "z"])
    before = frame.copy()
    html, cells = _shown_cells(monkeypatch, frame, 2)
    assert cells == ["–", "yes", "a", "0.00", "no", "–", "21.46", "–", "b"]
    assert not any(s in html for s in (">nan<", "None", "-0.00", "True", "False"))
    pd.testing.assert_frame_equal(frame, before)  # formatted for the page, not changed
    _, cells = _shown_cells(monkeypatch, pd.DataFrame({"d": [-1e-9, 0.5, float("nan")], "n": [1, 2, 3]}), None)
    assert cells == ["0.000000", "1", "0.500000", "2", "–", "3"]  # pandas' default precision, as before


def test_generated_numbers_have_no_negative_zero_and_counts_agree_with_their_noun():
    from inpaintlib.chapter import counted, signed
    from inpaintlib.papers.pmrfn import tables as pmrfn_tables

    assert [signed(v) for v in (-0.004, 0.004, 0.21, -1.046, float("nan"))] == ["0.00", "0.00", "+0.21", "-1.05", "–"]
    assert signed(-0.04, 1) == "0.0" and signed(0.05, 1) == "+0.1"
    assert (counted(1, "cell"), counted(0, "cell"), counted(2, "pass", "passes")) == ("1 cell", "0 cells", "2 passes")
    text = pmrfn_tables.consistency()["text"]
    assert "(s)" not in text and " in 1 cell (" in text  # Table 1's one misprinted "Ave" cell


def _string_literals(tree):
    """``(line, text)`` of every string literal in ``tree`` that is not a docstring, an f-string's parts joined with
    ``{}`` for its fields, leaving out the text matplotlib draws (titles, labels, annotations: mathtext there is
    typeset into the image)."""
    import ast

    drawn = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "title", "xlabel", "ylabel", "text", "annotate",
             "set_label", "legend", "supxlabel", "supylabel"}
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = list(node.args) + [k.value for k in node.keywords] if name in drawn else \
                [k.value for k in node.keywords if k.arg in ("label", "title", "xlabel", "ylabel")]
            for arg in args:
                skip.update(id(n) for n in ast.walk(arg))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_raw_tex_in_generated_text():
    """The book renders a notebook's printed text as it is and its ``display(Markdown(...))`` outputs as CommonMark
    (myst-nb's ``nb_render_markdown_format``), so ``$...$`` in generated text reaches the reader as raw TeX: the
    notebooks' code and the functions that write their sentences and tables use words or Unicode (δ, M′₃) instead.
    A static check of every string literal (the notebooks' markdown cells are comments, not literals, and keep
    their math)."""
    import ast
    import re

    tex = re.compile(r"\$[^$\s][^$]*\$|\\\(|\\\[")
    sources = sorted((ROOT / "notebooks").rglob("*.py"))
    for part in ("papers", "bench", "chapter"):
        sources += sorted((ROOT / "inpaintlib" / part).rglob("*.py"))
    sources += [ROOT / "inpaintlib" / "foundations.py", ROOT / "inpaintlib" / "viz.py"]
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}" for path in sources
             for line, text in _string_literals(ast.parse(path.read_text(), str(path))) if tex.search(text)]
    assert not found, "TeX in generated text (not typeset on the page):\n" + "\n".join(found)
    assert list(_string_literals(ast.parse('print(f"with $\\\\delta = {d}$")'))) == [(1, "with $\\delta = {}$")]


def test_no_bare_file_name_in_the_books_text_becomes_a_web_link():
    """The book enables MyST's linkify: a bare ``NAME.md`` or ``NAME.py`` in prose (.md and .py are country domains)
    is rendered as a link to ``http://NAME.md``. Landing pages and the notebooks' markdown cells name files in
    backticks or link the book page."""
    import re

    markdown_it = pytest.importorskip("markdown_it")
    pytest.importorskip("linkify_it")
    md = markdown_it.MarkdownIt("commonmark", {"linkify": True}).enable("linkify")

    def markdown_cells(src: str) -> list[str]:
        return ["\n".join(re.sub(r"^# ?", "", line) for line in cell.splitlines()[1:])
                for cell in re.split(r"^(?=# %%)", src, flags=re.M) if cell.startswith("# %% [markdown]")]

    texts = [(p, p.read_text()) for p in sorted((ROOT / "book").glob("*.md"))]
    texts += [(p, t) for p in sorted((ROOT / "notebooks").rglob("*.py")) for t in markdown_cells(p.read_text())]
    links = [f"{p.relative_to(ROOT)}: {c.attrs['href']}" for p, t in texts for tok in md.parse(t)
             for c in tok.children or [] if c.type == "link_open" and c.markup == "linkify"]
    assert not links, "bare names turned into web links:\n" + "\n".join(links)
    assert [c.attrs["href"] for tok in md.parse("From HRNet (NOTES.md).") for c in tok.children or []
            if c.type == "link_open"] == ["http://NOTES.md"]  # the check sees what the book would link
