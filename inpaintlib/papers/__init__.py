"""One package per paper: the network and its ``paper()/demo()/ci()`` config, the training recipe, the paper's printed
tables as data, the chapter's own figures, paper-specific masks. Each registers its network in
:mod:`inpaintlib.registry` (``MODEL``), so a checkpoint can be rebuilt from its sidecar alone."""
from ..registry import PaperModel, build_model, paper_model, papers

__all__ = ["papers", "PaperModel", "build_model", "paper_model"]
