"""The common start of every DICOM file the tests write with pydicom."""

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

#: Digital X-Ray Image Storage - For Presentation.
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def new_dataset(sop_class_uid, transfer_syntax=ExplicitVRLittleEndian):
    """An empty dataset of ``sop_class_uid`` with its file meta and a fresh SOP instance UID."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    return ds
