"""Hypothesis settings shared by the encoding and address/amount tests."""

from __future__ import annotations

from hypothesis import settings

SETTINGS = settings(max_examples=60, deadline=None)
FEW = settings(max_examples=25, deadline=None)
