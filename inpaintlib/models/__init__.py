
from .msfef import MSFEFConfig, MSFEFNet, msfef_training  # noqa: F401  (MSFEF chapter)
