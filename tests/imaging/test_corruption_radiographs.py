"""Truncated and damaged radiographs are refused with one line naming the file.

Every format ``read_radiograph`` reads is written small and seeded, then cut at several points.
Byte flips are tested where a reader can notice them: anywhere in a PNG (every chunk has a
CRC-32, the image data a zlib Adler-32) and in the structural fields of an uncompressed DICOM
(Rows, Columns, Bits Allocated, Transfer Syntax UID). A flip inside uncompressed DICOM or TIFF
pixels, or inside JPEG / JPEG 2000 code streams, cannot be detected (no checksum) and is not
tested.
"""

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image
from pydicom.uid import JPEG2000Lossless

from fracturelab.errors import InputError
from fracturelab.imaging import read_radiograph
from tests.dicom_files import DX_STORAGE, new_dataset

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PIXELS = np.random.default_rng(5).integers(0, 4096, (48, 64), dtype=np.uint16)


def _dx(pixels=PIXELS):
    ds = new_dataset(DX_STORAGE)
    ds.Modality = "DX"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    return ds


def _dicom(path):
    _dx().save_as(path, enforce_file_format=True)


def _dicom_j2k(path):
    ds = _dx()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    ds.save_as(path, enforce_file_format=True)


def _png_itk(path):  # plain 16-bit grey: libpng through SimpleITK
    Image.fromarray(PIXELS * 16).save(path)


def _png_pillow(path):  # RGB: Pillow
    rgb = np.stack([PIXELS >> 4] * 3, axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path)


def _tiff(path):
    Image.fromarray(PIXELS).save(path)


def _tiff_deflate(path):
    Image.fromarray(PIXELS).save(path, compression="tiff_deflate")


def _jpeg(path):
    Image.fromarray((PIXELS >> 4).astype(np.uint8)).save(path, quality=90)


def _itk(path):
    image = sitk.GetImageFromArray(PIXELS)
    image.SetSpacing((0.2, 0.3))
    sitk.WriteImage(image, str(path), useCompression=path.name.endswith((".gz", ".nrrd")))


WRITERS = {
    "x.dcm": _dicom,
    "j2k.dcm": _dicom_j2k,
    "grey.png": _png_itk,
    "rgb.png": _png_pillow,
    "x.tif": _tiff,
    "deflate.tif": _tiff_deflate,
    "x.jpg": _jpeg,
    "x.nii.gz": _itk,
    "x.nii": _itk,
    "x.mha": _itk,
    "x.nrrd": _itk,
}


def _refused(path):
    with pytest.raises(InputError) as caught:
        read_radiograph(path)
    message = str(caught.value)
    assert "\n" not in message and path.name in message, message
    return message


def _cuts(size, seed):
    rng = np.random.default_rng(seed)
    points = set(rng.integers(1, size, 6).tolist()) | {1, 133, size // 2, size - 2, size - 1}
    return sorted(p for p in points if 0 < p < size)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_the_written_file_reads(tmp_path, name):
    path = tmp_path / name
    WRITERS[name](path)
    assert read_radiograph(path).array.shape == PIXELS.shape


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_truncated_radiograph_is_refused(tmp_path, name):
    path = tmp_path / name
    WRITERS[name](path)
    whole = path.read_bytes()
    for cut in _cuts(len(whole), seed=len(whole)):
        path.write_bytes(whole[:cut])
        _refused(path)


@pytest.mark.parametrize("name", ["grey.png", "rgb.png"])
def test_flipped_bit_anywhere_in_a_png_is_refused_or_harmless(tmp_path, name):
    path = tmp_path / name
    WRITERS[name](path)
    expected = read_radiograph(path).array
    whole = path.read_bytes()
    rng = np.random.default_rng(9)
    refused = 0
    for position in range(len(whole)):
        damaged = bytearray(whole)
        damaged[position] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(damaged))
        try:
            np.testing.assert_array_equal(read_radiograph(path).array, expected)
        except InputError as error:
            assert "\n" not in str(error) and name in str(error)
            refused += 1
    assert refused >= len(whole) - 8  # at most the 8-byte signature's unused bits pass


def _value_offsets(raw, keyword_tags):
    """Offsets of the values of explicit-VR little-endian elements (short form)."""
    offsets = []
    for group, element in keyword_tags:
        tag = group.to_bytes(2, "little") + element.to_bytes(2, "little")
        start = raw.index(tag) + 8  # tag, VR, 2-byte length
        length = int.from_bytes(raw[start - 2 : start], "little")
        offsets.extend(range(start, start + length))
    return offsets


def test_flipped_bits_in_dicom_structural_fields_are_refused_or_harmless(tmp_path):
    path = tmp_path / "x.dcm"
    _dicom(path)
    expected = read_radiograph(path).array
    whole = path.read_bytes()
    # Transfer Syntax UID, Rows, Columns, Bits Allocated
    fields = [(0x0002, 0x0010), (0x0028, 0x0010), (0x0028, 0x0011), (0x0028, 0x0100)]
    outcomes = []
    for position in _value_offsets(whole, fields):
        for bit in range(8):
            damaged = bytearray(whole)
            damaged[position] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            try:
                np.testing.assert_array_equal(read_radiograph(path).array, expected)
                outcomes.append("same")
            except InputError as error:
                assert "\n" not in str(error) and "x.dcm" in str(error)
                outcomes.append("refused")
    assert outcomes.count("refused") > len(outcomes) // 2


def test_compressed_dicom_without_its_end_marker_is_refused(tmp_path):
    path = tmp_path / "j2k.dcm"
    _dicom_j2k(path)
    whole = path.read_bytes()
    assert whole.endswith(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00")  # the sequence delimiter
    path.write_bytes(whole[:-1])
    assert pydicom.dcmread(path).pixel_array.shape == PIXELS.shape  # pydicom alone accepts it
    assert "end marker" in _refused(path)


@pytest.mark.parametrize("name", ["cr_lower_leg_RG3_J2KR.dcm", "dx_thorax_canine.dcm"])
def test_real_radiographs_truncated_are_refused(tmp_path, name):
    source = SHARED / "xray" / name
    if not source.exists():
        pytest.skip(f"{source} is not available")
    whole = source.read_bytes()
    path = tmp_path / name
    for cut in (200, 1000, len(whole) // 2, len(whole) - 20, len(whole) - 1):
        path.write_bytes(whole[:cut])
        _refused(path)


def test_cut_encapsulated_dicom_says_truncated_and_warns_nothing(tmp_path, recwarn):
    """pydicom only *warns* when a file ends before its pixel data's end delimiter.

    That warning must not reach the user (a one-line error is all they see), and the error
    must say the file is truncated rather than that it holds no pixel data.
    """
    path = tmp_path / "j2k.dcm"
    WRITERS["j2k.dcm"](path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 40])
    with pytest.raises(InputError, match="truncated or damaged") as caught:
        read_radiograph(path)
    assert "\n" not in str(caught.value) and "j2k.dcm" in str(caught.value)
    assert [str(w.message) for w in recwarn] == []
