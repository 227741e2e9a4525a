"""MSA-Net's printed tables as data (Qin et al. 2021), transcribed as printed; :mod:`.checks` reads them.

Table 1 (parameter counts, in thousands as printed), Tables 2-5 (ablations on Places2: PSNR, SSIM) and Table 6
(PSNR/SSIM by hole-ratio bucket and on the "Fixed" 25% box, Places2 and CelebA; "-" = None).
"""
from __future__ import annotations

__all__ = ["PAPER_TABLE1_COUNTS", "PAPER_TABLE1_MAPS", "PAPER_TABLE2", "PAPER_TABLE3", "PAPER_TABLE4",
           "PAPER_TABLE5", "PAPER_TABLE6", "TABLE6_COLUMNS", "TABLE6_BUCKETS", "PAPER_TEST_TIME_S", "ABLATION_TABLES"]

#: Table 1: "Parameter of multi-scale structure" and "Total parameter" (K), and the printed map counts.
PAPER_TABLE1_COUNTS = {
    "msau": {"structure": 221, "total": 221},
    "inception_v1": {"structure": 240, "total": 338},
    "inception_v3": {"structure": 268, "total": 326},
}
PAPER_TABLE1_MAPS = {"msau": {"multi-scale maps": 192, "output maps": 192},
                     "inception_v1": {"multi-scale maps": 512, "output maps": 192},
                     "inception_v3": {"multi-scale maps": 304, "output maps": 192}}

#: Tables 2-5 (Places2): row -> (PSNR, SSIM).
PAPER_TABLE2 = {"Single scale": (26.513, 0.8768), "Inception V1": (26.535, 0.8761),
                "Inception V3": (26.553, 0.8771), "MSAG": (26.580, 0.8775)}
PAPER_TABLE3 = {"No-MUM": (26.580, 0.8775), "MUM": (26.615, 0.8788)}
#: Table 4 rows named by the attentions switched on (C-A, S-A, CS-A).
PAPER_TABLE4 = {"none": (26.615, 0.8788), "C-A": (26.633, 0.8802), "S-A": (26.690, 0.8803),
                "C-A + S-A": (26.692, 0.8809), "CS-A": (26.724, 0.8816), "C-A + S-A + CS-A": (26.802, 0.8820)}
PAPER_TABLE5 = {"CBAM": (26.710, 0.8811), "SCA-CNN": (26.728, 0.8805), "SE-Net": (26.758, 0.8817),
                "MSA-Net": (26.802, 0.8820)}
ABLATION_TABLES = {"Table 2": PAPER_TABLE2, "Table 3": PAPER_TABLE3, "Table 4": PAPER_TABLE4, "Table 5": PAPER_TABLE5}

TABLE6_BUCKETS = ("(0.01, 0.1]", "(0.1, 0.2]", "(0.2, 0.3]", "(0.3, 0.4]", "(0.4, 0.5]", "(0.5, 0.6]")
TABLE6_COLUMNS = TABLE6_BUCKETS + ("Fixed",)
_ = None
#: Table 6: dataset -> method -> metric -> 7 values (six buckets, then "Fixed", the 25% box); None where "-".
PAPER_TABLE6 = {
    "Places2": {
        "CA": {"PSNR": (30.71, 24.56, 21.34, 19.27, 17.84, 16.42, 20.66),
               "SSIM": (0.964, 0.898, 0.813, 0.725, 0.636, 0.523, 0.774)},
        "PConv": {"PSNR": (34.05, 28.02, 24.90, 22.45, 20.86, 18.63, _),
                  "SSIM": (0.946, 0.869, 0.777, 0.685, 0.589, 0.476, _)},
        "EdgeConnect": {"PSNR": (_, 27.95, 24.92, 22.84, 21.16, _, 21.75),
                        "SSIM": (_, 0.920, 0.861, 0.799, 0.731, _, 0.823)},
        "GMCNN": {"PSNR": (34.84, 28.81, 25.42, 22.96, 20.86, 17.20, 18.88),
                  "SSIM": (0.986, 0.957, 0.912, 0.854, 0.778, 0.593, 0.737)},
        "MSA-Net": {"PSNR": (35.80, 30.03, 26.88, 24.69, 22.91, 20.51, 22.89),
                    "SSIM": (0.988, 0.965, 0.929, 0.884, 0.826, 0.701, 0.810)},
    },
    "CelebA": {
        "CA": {"PSNR": (33.37, 27.71, 24.66, 22.29, 20.37, 18.11, 23.12),
               "SSIM": (0.981, 0.946, 0.902, 0.844, 0.775, 0.667, 0.861)},
        "EdgeConnect": {"PSNR": (39.60, 33.51, 30.02, 27.39, 25.28, 22.11, 25.49),
                        "SSIM": (0.985, 0.961, 0.928, 0.890, 0.846, 0.771, 0.891)},
        "GMCNN": {"PSNR": (32.66, 26.63, 23.50, 21.23, 19.66, 17.75, 25.00),
                  "SSIM": (0.978, 0.938, 0.890, 0.832, 0.773, 0.690, 0.905)},
        "MSA-Net": {"PSNR": (38.55, 33.12, 30.20, 27.90, 25.99, 23.22, 26.29),
                    "SSIM": (0.994, 0.982, 0.967, 0.945, 0.917, 0.852, 0.916)},
    },
}

#: Sect. 4: "the average test time of an image is about 0.026 s" (Titan XP, 256 x 256).
PAPER_TEST_TIME_S = 0.026
