"""Puts the repository root on sys.path, so a bench run as `python bench/x.py`
(from a checkout, installed or not) can import `tuichain` and `tests.builders`."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
