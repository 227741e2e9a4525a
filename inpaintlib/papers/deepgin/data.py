"""DeepGIN's training crop (Sect. 5.1, "Training Batch Formation")."""
from __future__ import annotations

import numpy as np
import torch

from ...data import random_crop, resize_image

__all__ = ["deepgin_crop"]


def deepgin_crop(image: torch.Tensor, rng: np.random.Generator, load_size: int = 512, crop: int = 256) -> torch.Tensor:
    """DeepGIN Sect. 5.1 "Training Batch Formation": resize every training image to 512 x 512 (aspect
    ratio not kept, as the paper states) and take a random 256 x 256 sub-image.

    Pass it to ``inpaintlib.data.ImageFolder(root, 256, transform=deepgin_crop, flip=...)``; it has the
    ``transform(image, rng)`` signature.
    """
    return random_crop(resize_image(image, load_size), crop, rng)
