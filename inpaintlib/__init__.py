"""inpaintlib: small, faithful building blocks for the image-inpainting book.

Conventions (see the book's Foundations chapter):

* images are float32 ``N x C x H x W`` tensors in ``[0, 1]``;
* masks are ``valid`` maps, ``N x 1 x H x W``, exactly 0 or 1, **1 = known pixel, 0 = hole**;
* the composite is ``valid * image + (1 - valid) * output``.

``import inpaintlib`` needs only torch, numpy, scipy and scikit-image; torchvision and
lpips are optional extras (``pip install inpaintlib[perceptual]``).
"""

__version__ = "0.1.0"
