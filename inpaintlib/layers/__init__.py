"""Reusable layers named by concept; they import only torch and the input checks.

* :mod:`.partial_conv` -- partial convolution (Liu et al. 2018) and the max-pool mask update;
* :mod:`.multiscale_fusion` -- parallel partial convolutions of several kernel sizes fused by learned weights
  (the MSFEF module of Sarkar et al. 2023);
* :mod:`.vgg` -- frozen VGG16/19 features at named layers with the published ImageNet weights (perceptual/style
  losses);
* :mod:`.discriminators` -- the multi-scale PatchGAN discriminator (pix2pixHD, DeepGIN) and the WGAN critic
  (DeepFill v1's global and local critics);
* :mod:`.contextual_attention` -- contextual attention (Yu et al. 2018; the CtxAttn chapter).
"""
from .contextual_attention import AttentionDetails, ContextualAttention
from .discriminators import PatchDiscriminator, WGANCritic
from .multiscale_fusion import MSFEFModule
from .partial_conv import PartialConv2d, maxpool_mask_update
from .vgg import VGGFeatures, WeightsUnavailableError, vgg_layer_names

__all__ = ["PartialConv2d", "maxpool_mask_update", "MSFEFModule", "VGGFeatures", "WeightsUnavailableError",
           "vgg_layer_names", "PatchDiscriminator", "WGANCritic", "ContextualAttention", "AttentionDetails"]
