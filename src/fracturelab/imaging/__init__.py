"""Images with geometry, and their readers and writers."""

from fracturelab.imaging.io import read_volume, write_volume
from fracturelab.imaging.volume import Volume

__all__ = ["Volume", "read_volume", "write_volume"]
