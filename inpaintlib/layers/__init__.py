"""Reusable layers named by concept; they import only torch and the input checks.

* :mod:`.partial_conv` -- partial convolution (Liu et al. 2018) and the max-pool mask update;
* :mod:`.multiscale_fusion` -- parallel partial convolutions of several kernel sizes fused by learned weights
  (the MSFEF module of Sarkar et al. 2023);
* :mod:`.vgg` -- frozen VGG16/19 features at named layers with the published ImageNet weights (perceptual/style
  losses);
* :mod:`.discriminators` -- the multi-scale PatchGAN discriminator (pix2pixHD, DeepGIN).
"""
from .discriminators import PatchDiscriminator
from .multiscale_fusion import MSFEFModule
from .partial_conv import PartialConv2d, maxpool_mask_update
from .vgg import VGGFeatures, WeightsUnavailableError, vgg_layer_names

__all__ = ["PartialConv2d", "maxpool_mask_update", "MSFEFModule", "VGGFeatures", "WeightsUnavailableError",
           "vgg_layer_names", "PatchDiscriminator"]
