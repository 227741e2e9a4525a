"""One run context per notebook: everything that depends on the scale, from one call.

A paper package declares one :class:`ChapterSpec` (its network config, its recipe, its protocol, its test-mask label,
its ablation variants and seeds per scale, the notebook that trains it); a notebook asks for a :class:`Run`::

    run = run_context(SPEC, scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
    splits = run.data()                           # name -> ChapterData: the paper's datasets at paper scale
    model = run.trained()                         # the checkpoint the training notebook wrote for run.dataset
    recipe = run.cap(recipe)                      # the knobs (step cap, batch) applied, the full schedule kept

and never compares ``scale`` with a string or names a dataset itself. The rules live here, once:

* **data**: at ``paper`` scale with ``data_root``, the paper's datasets (the recipe's ``datasets``, each prepared
  under ``data_root/<name>`` by ``python -m data_prep.datasets``); otherwise the sample scenes. ``run.dataset`` is
  the first of them: the one the figure, ablation and evaluation notebooks read (the paper's first table's). The
  training images are cropped at the network's size, or, when the recipe has a ``train_load_size`` (DeepGIN's
  Sect. 5.1 batches at paper scale), resized whole to that size for the recipe's own sub-images.
* **resume**: ``ci`` always trains afresh (the book's numbers come from one uninterrupted run); ``demo`` and
  ``paper`` continue a killed run from its last checkpoint.
* **smoke** (a dry run before a long run, PyTorch Lightning's ``fast_dev_run`` in spirit): every cell once, each
  training capped at :data:`SMOKE` steps (logged every step, so the bill can time them), one test photograph, one
  mask per bucket, one pair for the evaluation during training, one example per figure, at most two ablation
  variants with one seed. The run's artifacts go where the pipeline puts
  them (``python -m inpaintlib.reproduce --smoke`` writes them under ``_build/smoke/``, never over a real run).
* **knobs** override single settings: ``max_steps``, ``warmup_steps``, ``batch_size``, ``masks_per_bucket``,
  ``test_images``, ``datasets``, ``n_seeds``, ``variants``, ``vgg_backbone``, ``exemplar_iters``. A knob given as a
  mapping is per chapter: ``{"msfef": 2, "*": 1}`` is 2 for MSFEF and 1 for every other chapter.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..metrics import Protocol
from ..paths import artifact_dir, check_scale
from .data import ChapterData, chapter_data, per_bucket_for
from .runs import checkpoint_path, load_trained

__all__ = ["ChapterSpec", "Run", "run_context", "KNOBS", "SMOKE", "slug"]

#: The knobs a notebook (or ``python -m inpaintlib.reproduce --param NAME=VALUE``) may set; None = the run's value.
KNOBS = ("max_steps", "warmup_steps", "batch_size", "masks_per_bucket", "test_images", "datasets", "n_seeds",
         "variants", "vgg_backbone", "exemplar_iters")
#: What ``smoke=True`` sets (each still overridable by a knob): 3 steps so that two are timed after the first;
#: exemplar-based inpainting (about 45 s per 256 px pair on one core) stopped after 5 patches.
SMOKE = {"max_steps": 3, "warmup_steps": 3, "masks_per_bucket": 1, "test_images": 1, "n_seeds": 1, "variants": 2,
         "exemplar_iters": 5}


def slug(name: str) -> str:
    """A variant or method name as a folder name: lower case, ``+`` -> ``and``, other runs of symbols -> ``_``."""
    s = name.lower().replace("+", " and ")
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


@dataclass(frozen=True)
class ChapterSpec:
    """What a paper chapter declares once (its package's ``SPEC``).

    ``config``: the network config class (``paper()/demo()/ci()``, ``for_scale``); ``recipe(scale, **train)``: the
    training recipe at a scale, ``train`` fields overriding its TrainConfig; ``protocol(metrics=...)``: the scoring
    protocol of its tables; ``mask_label``: the name of its cached test-mask set; ``training_notebook``: the notebook
    that writes the checkpoint later notebooks read; ``ablation_variants``: scale -> the variant names its ablation
    trains (``"paper"`` the paper's table); ``ablation_seeds``: scale -> seeds per variant; ``table_datasets``: a
    table or figure -> the datasets it is on at paper scale, where that is not the training dataset (DeepGIN's
    Table 2: FFHQ and Oxford Buildings)."""

    paper: str
    config: type
    recipe: Callable[..., Any]
    protocol: Callable[..., Protocol]
    mask_label: str
    training_notebook: str
    ablation_variants: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ablation_seeds: Mapping[str, int] = field(default_factory=lambda: {"ci": 2, "demo": 1, "paper": 1})
    table_datasets: Mapping[str, Sequence[str]] = field(default_factory=dict)


class Run:
    """The scale-dependent facts of one notebook run (see the module docstring); built by :func:`run_context`."""

    def __init__(self, spec: ChapterSpec, scale: str, *, seed: int = 0, device: str = "auto",
                 data_root: str | os.PathLike | None = None, smoke: bool = False, **knobs):
        unknown = sorted(set(knobs) - set(KNOBS))
        if unknown:
            raise TypeError(f"unknown knob(s) {unknown}; a run takes {list(KNOBS)}")
        self.spec, self.scale, self.seed, self.device = spec, check_scale(scale), int(seed), device
        self.data_root = None if data_root is None else Path(data_root)
        self.smoke = bool(smoke)
        given = {k: v.get(spec.paper, v.get("*")) if isinstance(v, Mapping) else v for k, v in knobs.items()}
        self.knobs = {**(SMOKE if self.smoke else {}), **{k: v for k, v in given.items() if v is not None}}
        self.config = spec.config.for_scale(self.scale)
        self.size = self.config.image_size
        self.paper_data = self.scale == "paper" and self.data_root is not None
        #: The paper's networks and schedules (``paper``), not a reduced copy for a CPU.
        self.full_scale = self.scale == "paper"
        #: ``ci`` trains afresh every time; ``demo`` and ``paper`` continue a killed run.
        self.resume = self.scale != "ci"
        self.dir = artifact_dir(spec.paper, self.scale)

    def __repr__(self) -> str:
        return (f"Run({self.spec.paper!r}, scale={self.scale!r}, data={list(self.datasets)}, resume={self.resume}, "
                f"smoke={self.smoke}, knobs={self.knobs})")

    def knob(self, name: str, default: Any = None) -> Any:
        """A knob's value (``smoke`` defaults included), else ``default``."""
        return self.knobs.get(name, default)

    # --------------------------------------------------------------------------------------------- the recipe
    @property
    def recipe(self):
        """The recipe at this scale, seed and device (and the ``vgg_backbone`` knob); the step cap and the batch
        knob are :meth:`cap`'s, which keeps the schedule they replace."""
        recipe = self.spec.recipe(self.scale, seed=self.seed, device=self.device)
        if self.knob("vgg_backbone") and hasattr(recipe, "vgg_backbone"):
            recipe = dataclasses.replace(recipe, vgg_backbone=self.knob("vgg_backbone"))
        return recipe

    def cap(self, recipe):
        """``recipe`` (this run's, or another the notebook trains, e.g. an ablation's) with the knobs applied: the
        step cap (``max_steps``: its TrainConfig's steps, logging every step, eval and checkpoint within the cap;
        ``warmup_steps``: a ``warmup_steps`` field), ``batch_size`` and ``vgg_backbone``; the uncapped schedule
        kept in ``train.schedule_steps``/``schedule_batch`` (and ``warmup_schedule_steps``) for the bill."""
        t = recipe.train
        t = t.replace(schedule_steps=t.schedule_steps or t.steps, schedule_batch=t.schedule_batch or t.batch_size)
        if self.knob("batch_size"):
            t = t.replace(batch_size=int(self.knob("batch_size")))
        cap = self.knob("max_steps")
        if cap:
            cap = int(cap)
            t = t.replace(steps=min(t.steps, cap), log_every=1,
                          eval_every=None if t.eval_every is None else min(t.eval_every, cap),
                          ckpt_every=None if t.ckpt_every is None else min(t.ckpt_every, cap))
        changes: dict[str, Any] = {"train": t}
        if self.knob("vgg_backbone") and hasattr(recipe, "vgg_backbone"):
            changes["vgg_backbone"] = self.knob("vgg_backbone")
        if hasattr(recipe, "warmup_steps"):
            changes["warmup_schedule_steps"] = getattr(recipe, "warmup_schedule_steps", None) or recipe.warmup_steps
            if self.knob("warmup_steps"):
                changes["warmup_steps"] = min(recipe.warmup_steps, int(self.knob("warmup_steps")))
        return dataclasses.replace(recipe, **changes)

    # ----------------------------------------------------------------------------------------------- the data
    @property
    def datasets(self) -> tuple[str, ...]:
        """The datasets this run trains and tests on: the recipe's at paper scale with ``data_root`` (or the
        ``datasets`` knob's subset: a list of names, or an int keeping the first that many), else
        ``("sample_scenes",)``."""
        if not self.paper_data:
            return ("sample_scenes",)
        own = tuple(getattr(self.spec.recipe("paper"), "datasets", ()))
        asked = self.knob("datasets")
        if isinstance(asked, int) and not isinstance(asked, bool):
            return own[:max(1, asked)]
        if asked:
            asked = (asked,) if isinstance(asked, str) else tuple(asked)
            other = [d for d in asked if d not in own]
            if other:
                raise ValueError(f"datasets {other} are not among {self.spec.paper}'s datasets {list(own)}")
            return asked
        return own

    @property
    def dataset(self) -> str:
        """The dataset the figure, ablation and evaluation notebooks read (the first of :attr:`datasets`)."""
        return self.datasets[0]

    def data(self, names: Sequence[str] | None = None, *, protocol: Protocol | None = None, size: int | None = None,
             mask_label: str | None = None, mask_generator: str = "irregular") -> dict[str, ChapterData]:
        """``name -> ChapterData`` for ``names`` (default :attr:`datasets`): training set, test photographs (at most
        the ``test_images`` knob), fixed test masks (``masks_per_bucket``) and the protocol (default the spec's).
        The training images are whole, at the recipe's ``train_load_size``, when it has one (module docstring)."""
        names = tuple(names or self.datasets)
        kw = dict(data_root=self.data_root if self.paper_data else None, seed=self.seed,
                  mask_label=mask_label or self.spec.mask_label, mask_generator=mask_generator,
                  per_bucket=self.knob("masks_per_bucket"), max_test_images=self.knob("test_images"),
                  n_examples=self.knob("test_images") or 4,  # a smoke run's figures: one example each
                  n_eval=1 if self.smoke else None,  # and its evaluation during training: one pair
                  train_size=getattr(self.recipe, "train_load_size", None))
        if names == ("sample_scenes",):
            return chapter_data(self.scale, size or self.size, protocol or self.spec.protocol(), **kw)
        return chapter_data(self.scale, size or self.size, protocol or self.spec.protocol(), datasets=names, **kw)

    def datasets_for(self, table: str) -> tuple[str, ...]:
        """The datasets ``table`` (a key of the spec's ``table_datasets``) is on: the paper's at paper scale with
        ``data_root``, else the sample scenes; a table the spec does not list is on :attr:`dataset`."""
        if not self.paper_data:
            return ("sample_scenes",)
        names = tuple(self.spec.table_datasets.get(table, (self.dataset,)))
        asked = self.knob("datasets")  # an int keeps the first that many here too (a smoke run's knob)
        return names[:max(1, asked)] if isinstance(asked, int) and not isinstance(asked, bool) else names

    def photos(self, split: str = "test", size: int | None = None, name: str | None = None):
        """The photographs of one split of dataset ``name`` (default :attr:`dataset`) at ``size`` px (default the
        network's), as a Dataset of 3 x size x size tensors: for figures that need no masks."""
        from ..data import SampleScenes, open_dataset

        name, size = name or self.dataset, size or self.size
        if name == "sample_scenes":
            return SampleScenes(split, size)
        return open_dataset(name, self.data_root / name, split, size)

    def split(self, name: str | None = None, **kw) -> ChapterData:
        """One dataset's :class:`ChapterData` (default :attr:`dataset`); keywords as :meth:`data`."""
        name = name or self.dataset
        return self.data((name,), **kw)[name]

    @property
    def per_bucket(self) -> int:
        """Test masks per hole-ratio bucket (the ``masks_per_bucket`` knob, else the scale's)."""
        return int(self.knob("masks_per_bucket") or per_bucket_for(self.scale))

    # ---------------------------------------------------------------------------------------- checkpoints
    def out(self, *parts: str) -> Path:
        """A folder under this run's artifacts (``<artifacts>/<scale>/<paper>/...``)."""
        return self.dir.joinpath(*parts)

    def checkpoint(self, name: str | None = None) -> Path:
        """The model the training notebook wrote for dataset ``name`` (default :attr:`dataset`);
        ``FileNotFoundError`` naming the notebook to run."""
        return checkpoint_path(self.spec.paper, self.scale, name or self.dataset, self.spec.training_notebook)

    def trained(self, name: str | None = None):
        """The trained network of :meth:`checkpoint` (eval mode)."""
        return load_trained(self.checkpoint(name))

    # ---------------------------------------------------------------------------------------------- ablations
    @property
    def n_seeds(self) -> int:
        """Seeds per ablation variant (the spec's per scale; the ``n_seeds`` knob overrides)."""
        return int(self.knob("n_seeds") or self.spec.ablation_seeds[self.scale])

    def variants(self, available: Sequence[str] | None = None, keep: Sequence[str] = ()) -> list[str]:
        """The ablation variants to train, in order: the spec's for this scale (or ``available``); a ``variants``
        knob that is a list names them, an int keeps that many, always including those in ``keep`` (the variants
        the notebook compares by name)."""
        names = list(available if available is not None else self.spec.ablation_variants[self.scale])
        v = self.knob("variants")
        if isinstance(v, int) and not isinstance(v, bool):
            kept = [n for n in names if n in keep]
            others = [n for n in names if n not in kept][:max(0, v - len(kept))]
            return [n for n in names if n in kept or n in others]
        if v:
            other = [x for x in v if x not in names]
            if other:
                raise ValueError(f"variants {other} are not among {names}")
            return list(v)
        return names

    def describe(self) -> str:
        """One line: scale, data, resume, smoke and knobs."""
        data = ", ".join(self.datasets) + (f" under {self.data_root}" if self.paper_data else "")
        line = f"{self.spec.paper} at {self.scale} scale on {data}; {'resumes' if self.resume else 'trains afresh'}"
        if self.scale == "paper" and not self.paper_data:
            line += "; no data_root: the sample scenes stand in for the paper's datasets"
        if self.smoke or self.knobs:
            line += f"; {'smoke run, ' if self.smoke else ''}knobs {self.knobs}"
        return line


def run_context(spec: ChapterSpec | str, scale: str, **kw) -> Run:
    """The :class:`Run` of one notebook for ``spec`` (or a paper's name: its package's ``SPEC``)."""
    if isinstance(spec, str):
        import importlib

        spec = importlib.import_module(f"inpaintlib.papers.{spec}").SPEC
    return Run(spec, scale, **kw)
