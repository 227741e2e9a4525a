"""Layers shared by the chapters: partial convolution, mask updates, attention blocks."""
from .partial_conv import PartialConv2d, maxpool_mask_update
from .msfef import MSFEFModule  # noqa: E402  (MSFEF chapter)

__all__ = ["PartialConv2d", "maxpool_mask_update"]
__all__ += ["MSFEFModule"]
