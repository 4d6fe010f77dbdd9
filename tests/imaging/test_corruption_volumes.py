"""Truncated and damaged volume files are refused with one line naming the file.

Every volume format ``read_volume`` reads is written small and seeded, then cut at several
points: each cut must raise ``InputError``. Bytes are flipped only where a reader can notice:
anywhere in checksummed streams (gzip CRC-32, zlib Adler-32) and in structural header fields
(magic, dimensions, data type, offsets, compression flags); there a flip must raise
``InputError`` or read back exactly the original voxels and geometry. A flip inside the raw
voxel data of an uncompressed format (or in its spacing / origin fields) cannot be detected by
any reader, as those formats carry no checksum, so it is not tested.
"""

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from fracturelab.errors import InputError
from fracturelab.imaging import read_volume

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TOTALSEG = SHARED / "ct-totalsegmentator-example"

# (file name, its data file or None, compressed)
FORMATS = [
    ("v.nii", None, False),
    ("v.nii.gz", None, True),
    ("v.mha", None, False),
    ("v.mha", None, True),
    ("v.mhd", "v.raw", False),
    ("v.mhd", "v.zraw", True),
    ("v.nrrd", None, False),
    ("v.nrrd", None, True),
    ("v.nhdr", "v.raw", False),
    ("v.nhdr", "v.raw.gz", True),
]
IDS = [f"{name}{'-compressed' if packed else ''}" for name, _, packed in FORMATS]


def _image():
    array = np.random.default_rng(7).integers(-1000, 2000, (6, 7, 8), dtype=np.int16)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.9, 2.5))
    image.SetOrigin((1.0, -2.0, 3.0))
    return image, array


def _write(folder, name, compressed):
    image, array = _image()
    path = folder / name
    sitk.WriteImage(image, str(path), useCompression=compressed)
    return path, array


def _cuts(size, seed, start=1):
    """Several cut points in ``[start, size)``: seeded ones plus the very end."""
    rng = np.random.default_rng(seed)
    points = set(rng.integers(start, size, 6).tolist()) | {start, size // 2, size - 1}
    return sorted(p for p in points if start <= p < size)


def _refused(path, name, **kwargs):
    with pytest.raises(InputError) as caught:
        read_volume(path, role="CT", **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert name in message
    return message


def _same_or_refused(path, array, name):
    """A flip must be refused, or read back the very same voxels and geometry."""
    try:
        volume = read_volume(path, role="CT")
    except InputError as error:
        assert "\n" not in str(error) and name in str(error)
        return "refused"
    image, _ = _image()
    expected = np.eye(4)
    expected[:3, :3] = np.diag(image.GetSpacing())
    expected[:3, 3] = image.GetOrigin()
    np.testing.assert_array_equal(volume.array, array.transpose(2, 1, 0))
    np.testing.assert_allclose(volume.affine, expected, atol=1e-5)
    return "same"


def test_the_written_files_read_back_before_any_damage(tmp_path):
    for index, (name, _, packed) in enumerate(FORMATS):
        folder = tmp_path / str(index)
        folder.mkdir()
        path, array = _write(folder, name, packed)
        assert _same_or_refused(path, array, name) == "same"


@pytest.mark.parametrize(("name", "data", "compressed"), FORMATS, ids=IDS)
def test_truncated_file_is_refused(tmp_path, name, data, compressed):
    path, _ = _write(tmp_path, name, compressed)
    target = tmp_path / data if data else path
    whole = target.read_bytes()
    for cut in _cuts(len(whole), seed=len(whole)):
        target.write_bytes(whole[:cut])
        message = _refused(path, target.name)
        assert "truncated or damaged" in message or "cannot be read" in message, message


@pytest.mark.parametrize(("name", "data"), [("v.mhd", "v.raw"), ("v.nhdr", "v.raw")])
def test_truncated_header_of_a_split_format_is_refused(tmp_path, name, data):
    path, _ = _write(tmp_path, name, False)
    whole = path.read_bytes()
    # Without only its final newline the header is complete (hand-written headers often lack
    # it), so the cuts stop one byte earlier.
    for cut in _cuts(len(whole) - 1, seed=3):
        path.write_bytes(whole[:cut])
        _refused(path, name)


@pytest.mark.parametrize(("name", "data"), [("v.mhd", "v.raw"), ("v.nhdr", "v.raw")])
def test_missing_data_file_is_named(tmp_path, name, data):
    path, _ = _write(tmp_path, name, False)
    (tmp_path / data).unlink()
    assert "v.raw is missing" in _refused(path, name)


def _checksummed_region(path, name):
    """Byte range covered by a checksum (the whole compressed stream)."""
    raw = path.read_bytes()
    if name.endswith((".nii.gz", ".gz", ".zraw")):
        return 0, len(raw)
    marker = b"ElementDataFile = LOCAL\n" if name.endswith(".mha") else b"\n\n"
    return raw.index(marker) + len(marker), len(raw)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("v.nii.gz", None),
        ("v.mha", None),
        ("v.mhd", "v.zraw"),
        ("v.nrrd", None),
        ("v.nhdr", "v.raw.gz"),
    ],
)
def test_flipped_byte_in_checksummed_data_is_refused_or_harmless(tmp_path, name, data):
    path, array = _write(tmp_path, name, True)
    target = tmp_path / data if data else path
    whole = target.read_bytes()
    start, end = _checksummed_region(target, target.name)
    rng = np.random.default_rng(11)
    outcomes = []
    for position in sorted(set(rng.integers(start, end, 60).tolist()) | {end - 1, end - 5}):
        damaged = bytearray(whole)
        damaged[position] ^= 1 << int(rng.integers(0, 8))
        target.write_bytes(bytes(damaged))
        outcomes.append(_same_or_refused(path, array, target.name))
    assert outcomes.count("refused") > len(outcomes) // 2  # most flips hit checked data


def _nifti_structural_bytes():
    # sizeof_hdr, dim[8], datatype, bitpix, vox_offset, magic (NIfTI-1 offsets)
    return [*range(0, 4), *range(40, 56), *range(70, 74), *range(108, 112), *range(344, 348)]


def test_flipped_bits_in_nifti_structural_fields_are_refused_or_harmless(tmp_path):
    path, array = _write(tmp_path, "v.nii", False)
    whole = path.read_bytes()
    outcomes = []
    for position in _nifti_structural_bytes():
        for bit in range(8):
            damaged = bytearray(whole)
            damaged[position] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            outcomes.append(_same_or_refused(path, array, "v.nii"))
    assert outcomes.count("refused") > len(outcomes) // 2


_TEXT_FIELDS = {
    "v.mha": ("NDims", "DimSize", "ElementType", "CompressedData", "BinaryDataByteOrderMSB"),
    "v.mhd": ("NDims", "DimSize", "ElementType", "ElementDataFile", "CompressedData"),
    "v.nrrd": ("type", "dimension", "sizes", "encoding", "endian"),
    "v.nhdr": ("type", "dimension", "sizes", "encoding", "endian", "data file"),
}


@pytest.mark.parametrize("name", sorted(_TEXT_FIELDS))
def test_flipped_bits_in_text_header_fields_are_refused_or_harmless(tmp_path, name):
    path, array = _write(tmp_path, name, False)
    whole = path.read_bytes()
    header = whole[: whole.index(b"\n\n") if name.endswith("nrrd") else len(whole)]
    outcomes = []
    for field in _TEXT_FIELDS[name]:
        match = re.search(rb"^" + field.encode() + rb" ?[=:] ?([^\n]*)$", header, re.M)
        assert match, field
        for position in range(match.start(1), match.end(1)):
            for bit in (0, 1, 5):
                damaged = bytearray(whole)
                damaged[position] ^= 1 << bit
                path.write_bytes(bytes(damaged))
                outcomes.append(_same_or_refused(path, array, name))
    assert "refused" in outcomes


# ------------------------------------------------------------------------- real files
def _shared(path):
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def test_real_label_map_cut_at_7514_bytes_is_refused(tmp_path):
    source = _shared(TOTALSEG / "totalseg_total.nii.gz")
    cut = tmp_path / "t.nii.gz"
    cut.write_bytes(source.read_bytes()[:7514])
    with pytest.raises(EOFError):  # independent ground truth: Python's gzip says it is cut
        gzip.decompress(cut.read_bytes())
    message = _refused(cut, "t.nii.gz")
    assert "gzip stream ends early" in message


def test_real_ct_cut_to_5000_bytes_is_refused(tmp_path):
    cut = tmp_path / "ct.nii.gz"
    cut.write_bytes(_shared(TOTALSEG / "ct.nii.gz").read_bytes()[:5000])
    _refused(cut, "ct.nii.gz")


def test_real_ct_whole_still_reads():
    volume = read_volume(_shared(TOTALSEG / "ct.nii.gz"), role="CT")
    assert volume.array.shape == (122, 101, 112)


def test_real_dicom_series_with_one_truncated_slice_is_refused(tmp_path):
    source = _shared(TOTALSEG / "dicom")
    names = sorted(p.name for p in source.iterdir())
    victim = names[len(names) // 2]
    whole = (source / victim).read_bytes()
    for cut in (1000, len(whole) // 2, len(whole) - 20, len(whole) - 1):
        folder = tmp_path / str(cut)
        shutil.copytree(source, folder)
        (folder / victim).write_bytes(whole[:cut])
        message = _refused(folder, victim)
        assert "truncated or damaged" in message


def test_real_dicom_series_still_reads_as_ct():
    volume = read_volume(_shared(TOTALSEG / "dicom"), role="CT", modality="CT")
    assert sorted(volume.array.shape) == [20, 512, 512]
