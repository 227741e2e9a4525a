"""The chapter kit: what every paper chapter does once, so a chapter is a paper package plus notebooks.

* :mod:`.context` -- one run context per notebook: ``run_context(paper, scale, data_root=..., smoke=..., **knobs)``
  gives the datasets, the recipe with its step cap, the checkpoint paths, the ablation variants and seeds, whether
  to resume (each paper package declares its ``SPEC``);
* :mod:`.data` -- the test split, the fixed test masks and the training set for a scale (sample scenes at
  ``ci``/``demo``, the paper's dataset at ``paper`` with ``data_root``);
* :mod:`.runs` -- ``predictor(model)``, training a paper's network with a recipe, finding and loading the
  checkpoint an earlier notebook wrote, variants x seeds -> a tidy frame, methods by hole-ratio bucket;
* :mod:`.tables` -- ours beside the paper's table (mean ± std over seeds), compact enough for the page;
* :mod:`.text` -- numbers in generated sentences (signed differences without "-0.00", "1 cell" not "1 cell(s)");
* :mod:`.verdict` -- does our ordering agree with the paper's? decided pair by pair against the seed spread;
* :mod:`.summary` -- the trained network against mean filling, bucket by bucket (every training notebook);
* :mod:`.demo` -- the ci model of the build against the demo model shipped in ``weights/``;
* :mod:`.figures` -- the completion grid, learning curve against a baseline, differences to a reference variant.

Notebooks import from here and from their paper package; nothing here knows a particular paper.
"""
from .context import KNOBS, SMOKE, ChapterSpec, Run, run_context, slug
from .data import ChapterData, chapter_data, per_bucket_for, test_masks
from .demo import DEMO_SIZE, TRAINING_NOTEBOOKS, at_training_size, ci_model, demo_against_ci, demo_model
from .figures import completion_grid, cost_by_part, delta_bars, learning_curve, training_terms
from .runs import (checkpoint_path, evaluate_methods, load_trained, predictor, run_variants, shipped_checkpoints,
                   train_model)
from .summary import against_mean_fill, learning_summary
from .tables import beside_paper, cell_text, paper_frame, repeated_values, show, versus
from .text import MISSING, counted, signed
from .verdict import Verdict, compare_to_paper

__all__ = [
    "KNOBS", "SMOKE", "ChapterSpec", "Run", "run_context", "slug",
    "DEMO_SIZE", "TRAINING_NOTEBOOKS", "at_training_size", "ci_model", "demo_against_ci", "demo_model",
    "against_mean_fill", "learning_summary", "ChapterData", "chapter_data", "per_bucket_for", "test_masks", "completion_grid", "cost_by_part", "delta_bars", "learning_curve",
    "training_terms", "checkpoint_path", "evaluate_methods", "load_trained", "shipped_checkpoints", "predictor",
    "run_variants", "train_model", "beside_paper", "cell_text", "paper_frame", "show", "versus", "repeated_values",
    "Verdict", "compare_to_paper", "MISSING", "counted", "signed",
]
