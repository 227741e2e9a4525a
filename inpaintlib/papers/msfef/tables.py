"""The MSFEF paper's printed tables as data (Sarkar et al. 2023: Table 1 in Sect. 4.4, Table 2 in the appendix), transcribed as printed.

Typos and cells that do not add up are kept as printed and flagged by :mod:`.checks`, never corrected here.
"""
from __future__ import annotations

from .masks import TABLE1_BUCKETS

__all__ = ["PAPER_TABLE2", "PAPER_TABLE2_COLUMNS", "table2_parameter_count", "PAPER_TABLE1", "PAPER_TABLE1_ROWS",
           "PAPER_TABLE1_BUCKETS", "PAPER_TABLE1_METRICS"]

#: Appendix Table 2 of the paper, transcribed (module, filter size, filters/channels, stride/up, norm, act).
PAPER_TABLE2: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("MSFEF 1", "7x7, 5x5 and 3x3", "64", "2", "IN", "ReLU"),
    ("MSFEF 2", "7x7, 5x5 and 3x3", "128", "2", "IN", "ReLU"),
    ("MSFEF 3", "7x7, 5x5 and 3x3", "256", "2", "IN", "ReLU"),
    ("MSFEF 4", "7x7, 5x5 and 3x3", "512", "2", "IN", "ReLU"),
    ("PConv1", "3x3", "512", "2", "IN", "ReLU"),
    ("PConv2", "3x3", "512", "2", "IN", "ReLU"),
    ("PConv3", "3x3", "512", "2", "IN", "ReLU"),
    ("PConv4", "3x3", "512", "2", "BN", "ReLU"),
    ("NearestUpSample1", "", "512", "2", "-", "-"),
    ("Concat1(w/ PConv7)", "", "512+512", "", "-", "-"),
    ("PConv9", "3x3", "512", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample2", "", "512", "2", "-", "-"),
    ("Concat2(w/ PConv6)", "", "512+512", "", "-", "-"),
    ("PConv10", "3x3", "512", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample3", "", "512", "2", "-", "-"),
    ("Concat3(w/ PConv5)", "", "512+512", "", "-", "-"),
    ("PConv11", "3x3", "512", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample4", "", "512", "2", "-", "-"),
    ("Concat4(w/ PConv4)", "", "512+512", "", "-", "-"),
    ("PConv12", "3x3", "512", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample5", "", "512", "2", "-", "-"),
    ("Concat5(w/ PConv3)", "", "512+256", "", "-", "-"),
    ("PConv13", "3x3", "256", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample6", "", "256", "2", "-", "-"),
    ("Concat6(w/ PConv2)", "", "256+128", "", "-", "-"),
    ("PConv14", "3x3", "128", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample7", "", "128", "2", "-", "-"),
    ("Concat7(w/ PConv1)", "", "128+64", "", "-", "-"),
    ("PConv15", "3x3", "64", "1", "BN", "LeakyReLU(0.2)"),
    ("NearestUpSample8", "", "64", "2", "-", "-"),
    ("Concat8(w/Input)", "", "64+3", "", "-", "-"),
    ("PConv16", "3x3", "3", "1", "-", "-"),
)
PAPER_TABLE2_COLUMNS = ("Module Name", "Filter Size", "Filters/Channels", "Stride/Up Factor", "Normalization",
                        "Nonlinearity")


def table2_parameter_count(table=PAPER_TABLE2, in_channels: int = 3, with_fusion_and_norm: bool = False) -> int:
    """Parameters implied by Table 2's kernels and channels alone (conv weights + one bias per filter).

    Input channels of a layer = the previous layer's filters, or the "a+b" of the preceding Concat row.
    With ``with_fusion_and_norm`` adds what the table does not list but the text implies: the
    1 x 1 x C fusion weight per MSFEF branch (Sect. 3.2.2) and an affine scale+shift per IN/BN channel.
    """
    total, c_in = 0, in_channels
    for name, ksize, chans, _stride, norm, _act in table:
        if name.startswith("Concat"):
            c_in = sum(int(c) for c in chans.split("+"))
            continue
        if not ksize:
            continue
        c_out = int(chans)
        kernels = [int(k.strip().split("x")[0]) for k in ksize.replace(" and ", ",").split(",")]
        for k in kernels:
            total += k * k * c_in * c_out + c_out
        if with_fusion_and_norm:
            if len(kernels) > 1:
                total += len(kernels) * c_out
            if norm in ("IN", "BN"):
                total += 2 * c_out
        c_in = c_out
    return total


#: Table 1 of the paper (Sect. 4.4, ablation on Helen), transcribed: metric -> row -> 5 buckets [lo, hi).
PAPER_TABLE1_BUCKETS = TABLE1_BUCKETS  # [lo, hi), Table 1 (Sect. 4.4)
PAPER_TABLE1_ROWS = ("All loss + MSFEF", "No MSE + MSFEF", "No Perceptual + MSFEF", "No Style + MSFEF",
                     "No perceptual, no style + MSFEF", "All loss + No MSFEF")
PAPER_TABLE1: dict[str, dict[str, tuple[float, ...]]] = {
    "L2": {
        "All loss + MSFEF": (0.0014, 0.0046, 0.0086, 0.0140, 0.0183),
        "No MSE + MSFEF": (0.0034, 0.0097, 0.0226, 0.0312, 0.0407),
        "No Perceptual + MSFEF": (0.0024, 0.0086, 0.0157, 0.0231, 0.0274),
        "No Style + MSFEF": (0.0013, 0.0053, 0.0106, 0.0154, 0.0260),
        "No perceptual, no style + MSFEF": (0.0026, 0.0055, 0.0102, 0.0170, 0.0235),
        "All loss + No MSFEF": (0.0035, 0.0075, 0.0143, 0.0202, 0.0270),
    },
    "SSIM": {
        "All loss + MSFEF": (0.9525, 0.8806, 0.8146, 0.7272, 0.6876),
        "No MSE + MSFEF": (0.9352, 0.8464, 0.7364, 0.6691, 0.6225),
        "No Perceptual + MSFEF": (0.8979, 0.8234, 0.7424, 0.6818, 0.6445),
        "No Style + MSFEF": (0.9467, 0.8821, 0.8086, 0.7511, 0.6741),
        "No perceptual, no style + MSFEF": (0.8819, 0.8305, 0.7690, 0.7059, 0.6701),
        "All loss + No MSFEF": (0.8871, 0.8284, 0.7276, 0.6566, 0.6078),
    },
    "PSNR": {
        "All loss + MSFEF": (28.3496, 23.4008, 20.6515, 18.5389, 17.3642),
        "No MSE + MSFEF": (24.6991, 20.1296, 16.4730, 14.9620, 13.9297),
        "No Perceptual + MSFEF": (26.1351, 20.6458, 18.0514, 16.3660, 15.6836),
        "No Style + MSFEF": (28.9544, 22.7670, 19.7333, 18.1414, 15.8722),
        "No perceptual, no style + MSFEF": (25.8145, 22.7670, 19.7333, 18.1414, 15.8722),
        "All loss + No MSFEF": (25.8145, 23.8689, 19.9081, 17.6889, 16.3764),
    },
    "LPIPS": {
        "All loss + MSFEF": (0.1549, 0.2016, 0.2446, 0.3097, 0.3441),
        "No MSE + MSFEF": (0.1612, 0.2385, 0.3171, 0.3632, 0.3917),
        "No Perceptual + MSFEF": (0.1907, 0.2472, 0.3328, 0.3777, 0.4123),
        "No Style + MSFEF": (0.1685, 0.2119, 0.2588, 0.2993, 0.3473),
        "No perceptual, no style + MSFEF": (0.2597, 0.2851, 0.3229, 0.3627, 0.4037),
        "All loss + No MSFEF": (0.1850, 0.2327, 0.3097, 0.3546, 0.3802),
    },
}

#: Table 1's metrics in the paper's names, and ours (L2 is reported as the MSE of the composite; higher better?).
PAPER_TABLE1_METRICS = {"L2": ("mse", False), "SSIM": ("ssim", True), "PSNR": ("psnr", True), "LPIPS": ("lpips", False)}
