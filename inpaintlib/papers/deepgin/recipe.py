"""DeepGIN's training recipe; so far only the loss constants the shared losses accept.

The rest of the recipe (optimiser, loss weights, schedule) comes with the chapter.
"""
from __future__ import annotations

__all__ = ["DEEPGIN_VGG_LAYER_WEIGHTS"]

#: DeepGIN's VGG19 layer weights for conv1_1 .. conv5_1 (REFERENCE.md: DeepGIN's published code). The paper
#: (Sect. 4.2, Eq. 4) names the five layers but weights them equally. Pass them as
#: ``inpaintlib.losses.InpaintingLoss(..., perceptual_layer_weights=DEEPGIN_VGG_LAYER_WEIGHTS)``.
DEEPGIN_VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
