"""Beamtime: one web platform around an experiment."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("beamtime")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
