"""tuichain: a proof-of-work cryptocurrency node with a terminal dashboard."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tuichain")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
