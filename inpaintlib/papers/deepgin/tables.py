"""DeepGIN's printed tables as data (Li et al. 2020: Table 1 in Sect. 6.1, Table 2 in Sect. 6.2), as printed.

Nothing is corrected here; the chapter checks the tables (e.g. Sect. 6.1's "+1.06 dB" from MSSA against the rows)
from these values.
"""
from __future__ import annotations

__all__ = ["PAPER_TABLE1", "PAPER_TABLE1_COLUMNS", "PAPER_TABLE1_PARAMS", "PAPER_TABLE2", "PAPER_TABLE2_COLUMNS",
           "table1_parameter_string"]

PAPER_TABLE1_COLUMNS = ("PSNR", "SSIM", "L1 err. (%)", "FID", "LPIPS")

#: Table 1 (Sect. 6.1; CelebA-HQ, 3K test images, the three mask types): variant -> "Number of parameters" as
#: printed. The variant names are the keys of :data:`inpaintlib.papers.deepgin.model.TABLE1_VARIANTS`.
PAPER_TABLE1_PARAMS: dict[str, str] = {
    "StdResBlk (Coarse only)": "8.168M",
    "StdResBlk": "40.850M",
    "StdResBlk-SA": "41.376M",
    "StdResBlk-MSSA": "42.892M",
    "DilatedResBlk-MSSA": "42.892M",
    "SPDResBlk-MSSA": "42.892M",
    "SPDResBlk-MSSA-BP": "42.930M",
}

#: Table 1 metrics: variant -> (PSNR, SSIM, L1 err. (%), FID, LPIPS).
PAPER_TABLE1: dict[str, tuple[float, float, float, float, float]] = {
    "StdResBlk (Coarse only)": (31.55, 0.925, 4.690, 23.824, 0.182),
    "StdResBlk": (31.34, 0.923, 4.710, 19.436, 0.191),
    "StdResBlk-SA": (31.60, 0.925, 4.510, 18.239, 0.180),
    "StdResBlk-MSSA": (32.66, 0.933, 4.067, 12.843, 0.148),
    "DilatedResBlk-MSSA": (32.71, 0.933, 4.034, 12.548, 0.149),
    "SPDResBlk-MSSA": (32.88, 0.935, 3.884, 12.335, 0.143),
    "SPDResBlk-MSSA-BP": (33.26, 0.939, 3.666, 11.424, 0.132),
}


def table1_parameter_string(n: int) -> str:
    """A parameter count written as Table 1 prints it: millions with three decimals ("42.930M")."""
    return f"{n / 1e6:.3f}M"


PAPER_TABLE2_COLUMNS = ("PSNR", "SSIM", "L1 err.(%)", "FID", "LPIPS")

#: Table 2 (Sect. 6.2): (dataset, mask set) -> method -> (PSNR, SSIM, L1 err.(%), FID, LPIPS). "(OS)" = tested at
#: the original size, "(256)" = at 256 x 256; "Ours" = SPDResBlk-MSSA-BP. FFHQ: 1,000 test images; Oxford: 523.
PAPER_TABLE2: dict[tuple[str, str], dict[str, tuple[float, float, float, float, float]]] = {
    ("FFHQ", "rectangular"): {
        "DeepFillv1 (OS)": (20.22, 0.872, 16.523, 97.630, 0.173),
        "DeepFillv2 (OS)": (20.95, 0.903, 14.607, 92.070, 0.170),
        "Ours (OS)": (26.05, 0.923, 7.183, 20.849, 0.137),
        "DeepFillv1 (256)": (21.55, 0.836, 13.631, 26.276, 0.144),
        "DeepFillv2 (256)": (22.52, 0.845, 12.029, 19.336, 0.128),
        "Ours (256)": (24.36, 0.867, 9.797, 37.577, 0.142),
    },
    ("Oxford", "rectangular"): {
        "DeepFillv1 (OS)": (19.20, 0.767, 20.322, 67.193, 0.187),
        "DeepFillv2 (OS)": (18.58, 0.766, 21.204, 77.636, 0.192),
        "Ours (OS)": (21.92, 0.861, 12.067, 63.744, 0.170),
        "DeepFillv1 (256)": (19.49, 0.795, 16.851, 58.588, 0.169),
        "DeepFillv2 (256)": (18.88, 0.789, 18.308, 66.615, 0.174),
        "Ours (256)": (21.90, 0.819, 12.995, 74.866, 0.185),
    },
    ("FFHQ", "three types"): {
        "DeepFillv1 (OS)": (25.12, 0.839, 11.363, 64.534, 0.232),
        "DeepFillv2 (OS)": (29.70, 0.912, 7.994, 36.940, 0.188),
        "Ours (OS)": (32.36, 0.929, 4.071, 14.327, 0.156),
        "DeepFillv1 (256)": (22.87, 0.683, 16.812, 80.952, 0.310),
        "DeepFillv2 (256)": (22.75, 0.716, 17.472, 75.555, 0.293),
        "Ours (256)": (24.71, 0.760, 13.417, 64.542, 0.274),
    },
    ("Oxford", "three types"): {
        "DeepFillv1 (OS)": (21.48, 0.741, 23.460, 61.958, 0.237),
        "DeepFillv2 (OS)": (24.68, 0.802, 19.195, 38.315, 0.179),
        "Ours (OS)": (27.57, 0.871, 7.268, 38.016, 0.191),
        "DeepFillv1 (256)": (21.64, 0.686, 18.835, 81.009, 0.284),
        "DeepFillv2 (256)": (20.80, 0.702, 20.687, 82.671, 0.266),
        "Ours (256)": (23.60, 0.744, 14.659, 79.927, 0.265),
    },
}
