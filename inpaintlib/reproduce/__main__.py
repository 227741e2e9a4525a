"""``python -m inpaintlib.reproduce``: see :mod:`inpaintlib.reproduce`."""
import sys

from inpaintlib.reproduce.cli import main

sys.exit(main())
