"""Images with geometry, and their readers and writers."""

from fracturelab.imaging.dicom_header import probe_size_px, read_dicom_header
from fracturelab.imaging.io import read_volume, write_volume
from fracturelab.imaging.modality import RADIOGRAPH_MODALITIES
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.imaging.radiograph_io import read_radiograph, write_radiograph
from fracturelab.imaging.volume import Volume

__all__ = [
    "RADIOGRAPH_MODALITIES",
    "Radiograph",
    "Volume",
    "probe_size_px",
    "read_dicom_header",
    "read_radiograph",
    "read_volume",
    "write_radiograph",
    "write_volume",
]
