"""DeepGIN (Li et al., ECCV Workshops 2020): the chapter is planned; the network is not written yet.

What exists so far is what other chapters and the Foundations chapter already use:

* :mod:`.masks` -- the training masks of Sect. 5.1 (every image with all three AIM 2020 mask types);
* :mod:`.data` -- the training crop of Sect. 5.1 (resize to 512 x 512, random 256 x 256 sub-image);
* :mod:`.recipe` -- loss constants of the published code (the VGG19 layer weights of the perceptual loss).

The package defines no ``MODEL`` and is not in the registry (``inpaintlib.registry.PAPERS``) until the network
exists.
"""
from .data import deepgin_crop
from .masks import deepgin_masks
from .recipe import DEEPGIN_VGG_LAYER_WEIGHTS

__all__ = ["deepgin_masks", "deepgin_crop", "DEEPGIN_VGG_LAYER_WEIGHTS"]
