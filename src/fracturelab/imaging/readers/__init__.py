"""Radiograph readers by kind of file: DICOM, Pillow (PNG, TIFF, JPEG) and SimpleITK.

Each reader states the contents and suffixes it reads;
:func:`fracturelab.imaging.radiograph_io.read_radiograph` asks them in turn.
"""

from fracturelab.imaging.readers.base import RadiographReader, ReadResult, sniff
from fracturelab.imaging.readers.dicom import DicomReader
from fracturelab.imaging.readers.itk import ItkReader
from fracturelab.imaging.readers.pillow import PillowReader

__all__ = ["DicomReader", "ItkReader", "PillowReader", "RadiographReader", "ReadResult", "sniff"]
