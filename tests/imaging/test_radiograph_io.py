import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_windowing
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless

from fracturelab.errors import InputError
from fracturelab.imaging import Radiograph, read_radiograph, write_radiograph
from fracturelab.imaging.readers import pillow as pillow_reader
from tests.dicom_files import DX_STORAGE, new_dataset

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


# ------------------------------------------------------------------------------ helpers
def _dataset(pixels, photometric="MONOCHROME2", bits_stored=None, **tags):
    """A minimal DX dataset holding ``pixels`` uncompressed (signed if the dtype is)."""
    pixels = np.asarray(pixels)
    ds = new_dataset(DX_STORAGE)
    ds.Modality = "DX"
    colour = photometric in ("RGB", "YBR_FULL")
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(pixels.dtype, np.signedinteger))
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    return ds


def _write_dicom(path, pixels, photometric="MONOCHROME2", **kwargs):
    ds = _dataset(pixels, photometric, **kwargs)
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def _lut_item(descriptor, data, vr="OW"):
    """A LUT item with its data as OW (little-endian bytes) or as a list of US values."""
    item = Dataset()
    item.add_new(0x00283002, "US", descriptor)  # LUT Descriptor
    value = np.asarray(data, "<u2").tobytes() if vr == "OW" else list(data)
    item.add_new(0x00283006, vr, value)  # LUT Data
    return item


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _grey16_png(path, values, extra=b""):
    """A 16-bit grey PNG written by hand, with ``extra`` chunks before the image data."""
    rows, columns = values.shape
    scanlines = np.zeros((rows, 1 + 2 * columns), np.uint8)  # filter byte 0, big-endian
    scanlines[:, 1:] = values.astype(">u2").view(np.uint8).reshape(rows, -1)
    ihdr = struct.pack(">IIBBBBB", columns, rows, 16, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + extra
        + _png_chunk(b"IDAT", zlib.compress(scanlines.tobytes()))
        + _png_chunk(b"IEND", b"")
    )
    return path


def _shared(name):
    path = SHARED / "xray" / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def _pixels(path):
    with Image.open(path) as image:
        return np.asarray(image)


# -------------------------------------------------------------------------- DICOM: values
def test_monochrome1_and_monochrome2_give_the_same_bone_bright_array(tmp_path):
    bright_bone = np.array([[0, 250], [500, 1000]], dtype=np.uint16)  # MONOCHROME2: high = white
    mono2 = read_radiograph(_write_dicom(tmp_path / "m2.dcm", bright_bone))
    # MONOCHROME1 stores the same picture with low values white.
    mono1 = read_radiograph(_write_dicom(tmp_path / "m1.dcm", 1000 - bright_bone, "MONOCHROME1"))
    np.testing.assert_allclose(mono2.array, [[0.0, 0.25], [0.5, 1.0]], atol=1e-7)
    np.testing.assert_allclose(mono1.array, mono2.array, atol=1e-7)
    assert mono1.array.dtype == np.float32


def test_12_bit_rescale_then_window_gives_the_dicom_linear_values(tmp_path):
    raw = np.array([[0, 500, 600], [1000, 1500, 4095]], dtype=np.uint16)
    path = _write_dicom(
        tmp_path / "w.dcm",
        raw,
        bits_stored=12,
        RescaleSlope=2,
        RescaleIntercept=-1000,
        WindowCenter=1000,
        WindowWidth=2001,
    )
    # Modality values 2 * raw - 1000 = -1000, 0, 200, 1000, 2000, 7190; LINEAR window with
    # c = 1000, w = 2001: y = (x - 999.5) / 2000 + 0.5, clipped to [0, 1].
    expected = [[0.0, 0.00025, 0.10025], [0.50025, 1.0, 1.0]]
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-6)


def test_first_of_several_windows_is_used(tmp_path):
    raw = np.array([[0, 500], [1000, 4095]], dtype=np.uint16)
    path = _write_dicom(
        tmp_path / "w.dcm", raw, bits_stored=12, WindowCenter=[1000.5, 50], WindowWidth=[1001, 3]
    )
    # y = (x - 1000) / 1000 + 0.5 for the first window.
    np.testing.assert_allclose(read_radiograph(path).array, [[0.0, 0.0], [0.5, 1.0]], atol=1e-6)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_window_agrees_with_pydicom_apply_windowing(tmp_path, function):
    raw = np.random.default_rng(1).integers(0, 4096, (16, 12)).astype(np.uint16)
    tags = dict(RescaleSlope=0.5, RescaleIntercept=-100, WindowCenter=700, WindowWidth=900)
    path = _write_dicom(tmp_path / "w.dcm", raw, bits_stored=12, VOILUTFunction=function, **tags)
    ds = pydicom.dcmread(path)
    reference = apply_windowing(apply_modality_lut(ds.pixel_array, ds), ds)
    low, high = -100.0, 4095 * 0.5 - 100.0  # pydicom's output range: the rescaled 12-bit range
    np.testing.assert_allclose(
        read_radiograph(path).array, (reference - low) / (high - low), atol=2e-6
    )


def test_without_window_the_modality_values_are_stretched_min_max(tmp_path):
    raw = np.array([[-1000, 0], [1000, 3000]], dtype=np.int16)
    path = _write_dicom(tmp_path / "s.dcm", raw, RescaleSlope=1, RescaleIntercept=-1024)
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 0.25], [0.5, 1.0]], atol=1e-7)


def test_signed_12_bit_values_are_sign_extended(tmp_path):
    values = np.array([[-2048, -1], [0, 2047]], dtype=np.int16)
    stored = (values.view(np.uint16) & 0x0FFF).view(np.int16)  # upper 4 bits left at zero
    path = _write_dicom(tmp_path / "s.dcm", stored, bits_stored=12)
    expected = (values + 2048) / 4095
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-7)


def test_8_bit_values_with_window(tmp_path):
    raw = np.array([[0, 64], [128, 255]], dtype=np.uint8)
    path = _write_dicom(tmp_path / "8.dcm", raw, WindowCenter=128, WindowWidth=256)
    expected = np.clip((raw - 127.5) / 255 + 0.5, 0, 1)
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-6)


def test_voi_lut_sequence_with_8_bit_entries_wins_over_the_window(tmp_path):
    raw = np.array([[0, 300], [1000, 4095]], dtype=np.uint16)
    lut = _lut_item([4096, 0, 8], [i // 16 for i in range(4096)])
    path = _write_dicom(
        tmp_path / "lut.dcm",
        raw,
        bits_stored=12,
        VOILUTSequence=Sequence([lut]),
        WindowCenter=2,
        WindowWidth=2,
    )
    # raw // 16 = 0, 18, 62, 255; the LUT's output 0..255 is scaled to [0, 1].
    expected = np.array([[0, 18], [62, 255]]) / 255
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-6)


def test_voi_lut_clamps_values_outside_its_first_and_last_entries(tmp_path):
    raw = np.array([[0, 10], [12, 100]], dtype=np.uint16)
    lut = _lut_item([3, 10, 16], [100, 300, 500], vr="US")  # maps 10, 11, 12
    path = _write_dicom(tmp_path / "lut.dcm", raw, VOILUTSequence=Sequence([lut]))
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 0], [1, 1]], atol=1e-7)


def test_modality_lut_sequence_is_applied_before_the_window(tmp_path):
    raw = np.array([[0, 1], [2, 3]], dtype=np.uint16)
    lut = _lut_item([4, 0, 16], [0, 1000, 1500, 4000])
    path = _write_dicom(
        tmp_path / "mlut.dcm",
        raw,
        ModalityLUTSequence=Sequence([lut]),
        WindowCenter=2000,
        WindowWidth=2001,  # y = (x - 1999.5) / 2000 + 0.5
    )
    # LUT values 0, 1000, 1500, 4000 → -0.49975 (clipped), 0.00025, 0.25025, 1.00025 (clipped)
    expected = [[0.0, 0.00025], [0.25025, 1.0]]
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-6)


def test_rgb_dicom_becomes_luminance(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [100, 150, 200]]], dtype=np.uint8)
    path = _write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    expected = [[0.299, 0.587], [0.114, (0.299 * 100 + 0.587 * 150 + 0.114 * 200) / 255]]
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-6)


def test_jpeg_2000_compressed_dicom_is_decoded_losslessly(tmp_path):
    raw = (np.arange(32 * 40).reshape(32, 40) * 3 % 4096).astype(np.uint16)
    ds = _dataset(raw, bits_stored=12)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    path = tmp_path / "j2k.dcm"
    ds.save_as(path, enforce_file_format=True)
    np.testing.assert_allclose(read_radiograph(path).array, raw / raw.max(), atol=1e-6)


# -------------------------------------------------------------------------- DICOM: spacing
def test_pixel_spacing_wins_over_imager_pixel_spacing(tmp_path):
    path = _write_dicom(
        tmp_path / "s.dcm",
        np.zeros((4, 6), np.uint16),
        PixelSpacing=[0.2, 0.1],
        ImagerPixelSpacing=[0.3, 0.3],
    )
    radiograph = read_radiograph(path)
    assert radiograph.spacing_xy_mm == pytest.approx((0.1, 0.2))  # (column, row) spacing
    assert radiograph.spacing_source == "PixelSpacing"


def test_imager_pixel_spacing_alone(tmp_path):
    path = _write_dicom(
        tmp_path / "s.dcm", np.zeros((4, 6), np.uint16), ImagerPixelSpacing=[0.15, 0.25]
    )
    radiograph = read_radiograph(path)
    assert radiograph.spacing_xy_mm == pytest.approx((0.25, 0.15))
    assert radiograph.spacing_source == "ImagerPixelSpacing"


def test_anisotropic_spacing_puts_column_spacing_on_x(tmp_path):
    # 2 rows 0.5 mm apart, 4 columns 0.25 mm apart: the image is 1 mm x 1 mm.
    path = _write_dicom(tmp_path / "a.dcm", np.zeros((2, 4), np.uint16), PixelSpacing=[0.5, 0.25])
    radiograph = read_radiograph(path)
    assert radiograph.to_mm([radiograph.width_px, radiograph.height_px]) == pytest.approx((1, 1))
    assert radiograph.to_mm([1, 0]) == pytest.approx((0.25, 0.0))


def test_no_spacing_tag_gives_none(tmp_path):
    radiograph = read_radiograph(_write_dicom(tmp_path / "n.dcm", np.zeros((3, 3), np.uint16)))
    assert radiograph.spacing_xy_mm is None
    assert radiograph.spacing_source is None


def test_caller_spacing_overrides_the_file(tmp_path):
    path = _write_dicom(tmp_path / "s.dcm", np.zeros((3, 3), np.uint16), PixelSpacing=[0.2, 0.2])
    assert read_radiograph(path, 0.14).spacing_xy_mm == (0.14, 0.14)
    radiograph = read_radiograph(path, spacing_xy_mm=(0.1, 0.3))
    assert radiograph.spacing_xy_mm == (0.1, 0.3)
    assert radiograph.spacing_source == "manifest"


def test_bad_caller_spacing_is_refused(tmp_path):
    path = _write_dicom(tmp_path / "s.dcm", np.zeros((3, 3), np.uint16))
    with pytest.raises(InputError, match=r"s\.dcm: pixel spacing -1 is not valid"):
        read_radiograph(path, -1)


# ------------------------------------------------------------------- DICOM: detection
@pytest.mark.parametrize("name", ["IM0001", "1.2.840.113619.2.55", "looks_like.png"])
def test_dicom_is_recognised_by_its_preamble_whatever_its_name(tmp_path, name):
    path = _write_dicom(tmp_path / name, np.array([[0, 2], [4, 8]], np.uint16))
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 0.25], [0.5, 1]])


def test_dicom_without_preamble_or_file_meta_is_read_by_extension(tmp_path):
    ds = _dataset(np.array([[0, 2], [4, 8]], np.uint16))
    del ds.file_meta
    path = tmp_path / "raw.dcm"
    ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert path.read_bytes()[128:132] != b"DICM"
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 0.25], [0.5, 1]])


# ----------------------------------------------------------------------- DICOM: refusals
def test_multi_frame_dicom_is_refused(tmp_path):
    path = _write_dicom(tmp_path / "mf.dcm", np.zeros((3, 4, 4), np.uint16), NumberOfFrames=3)
    with pytest.raises(InputError, match=r"mf\.dcm: is a multi-frame DICOM with 3 frames"):
        read_radiograph(path)


def test_missing_decoder_names_the_transfer_syntax_and_the_package(tmp_path, monkeypatch):
    from pydicom.pixels.decoders import base

    ds = _dataset((np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8))
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    path = tmp_path / "j2k.dcm"
    ds.save_as(path, enforce_file_format=True)

    class _Unavailable:
        is_available = False
        missing_dependencies = ("pylibjpeg - requires pylibjpeg-openjpeg",)

    monkeypatch.setattr(base, "get_decoder", lambda uid: _Unavailable())
    with pytest.raises(
        InputError,
        match=r"j2k\.dcm: pixel data are compressed as JPEG 2000 .*1\.2\.840\.10008\.1\.2\.4\.90"
        r".*install pylibjpeg and pylibjpeg-openjpeg",
    ):
        read_radiograph(path)


def test_truncated_dicom_is_refused(tmp_path):
    path = _write_dicom(tmp_path / "cut.dcm", np.zeros((64, 64), np.uint16))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(
        InputError, match=r"cut\.dcm: the file is truncated or damaged \(holds 7,192 of 8,192 bytes"
    ):
        read_radiograph(path)


def test_dicom_without_pixel_data_is_refused(tmp_path):
    ds = _dataset(np.zeros((2, 2), np.uint16))
    del ds.PixelData
    path = tmp_path / "report.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(InputError, match=r"report\.dcm: holds no pixel data \(SOP class Digital"):
        read_radiograph(path)


def test_palette_colour_dicom_is_refused(tmp_path):
    path = _write_dicom(tmp_path / "p.dcm", np.zeros((2, 2), np.uint8), "PALETTE COLOR")
    with pytest.raises(InputError, match=r"p\.dcm: photometric interpretation PALETTE COLOR"):
        read_radiograph(path)


# ------------------------------------------------------------------------ real DICOM files
def test_real_jpeg_2000_cr_is_windowed_and_inverted():
    path = _shared("cr_lower_leg_RG3_J2KR.dcm")
    radiograph = read_radiograph(path)
    assert radiograph.shape == (1760, 1760)
    assert radiograph.array.dtype == np.float32
    assert radiograph.spacing_xy_mm is None  # the file has no spacing tag
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    # Its window is c = 550, w = 1024 over 10-bit values (pydicom range 0..1023); MONOCHROME1
    # means the stored minimum (0) is white, so it must come out as 1.0.
    reference = 1.0 - apply_windowing(stored.astype(float), ds) / 1023.0
    np.testing.assert_allclose(radiograph.array, reference, atol=2e-6)
    assert radiograph.array[stored == stored.min()].min() == 1.0


def test_real_dx_has_anisotropic_pixel_spacing_in_x_y_order():
    path = _shared("dx_thorax_canine.dcm")
    radiograph = read_radiograph(path)
    # Its PixelSpacing is [1.2, 1.2012]: 1.2 mm between rows, 1.2012 mm between columns.
    assert radiograph.spacing_xy_mm == pytest.approx((1.2012, 1.2))
    assert radiograph.spacing_source == "PixelSpacing"
    assert radiograph.shape == (169, 211)
    stored = pydicom.dcmread(path).pixel_array.astype(float)
    # 8-bit MONOCHROME1 with c = 128, w = 256: y = 1 - clip((x - 127.5) / 255 + 0.5).
    expected = 1.0 - np.clip((stored - 127.5) / 255 + 0.5, 0, 1)
    np.testing.assert_allclose(radiograph.array, expected, atol=1e-6)


# ----------------------------------------------------------------------- PNG, TIFF, JPEG
def test_8_bit_png(tmp_path):
    path = tmp_path / "g8.png"
    Image.fromarray(np.array([[0, 51], [102, 255]], np.uint8)).save(path)
    radiograph = read_radiograph(path)
    np.testing.assert_allclose(radiograph.array, [[0, 0.2], [0.4, 1.0]], atol=1e-7)
    assert radiograph.spacing_xy_mm is None


def test_16_bit_png_is_divided_by_65535(tmp_path):
    path = tmp_path / "g16.png"
    Image.fromarray(np.array([[0, 4095], [32768, 65535]], np.uint16)).save(path)
    expected = np.array([[0, 4095], [32768, 65535]]) / 65535
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-7)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_colour_png_becomes_bt601_luminance(tmp_path, mode):
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [100, 150, 200]]], np.uint8)
    if mode == "RGBA":
        rgb = np.concatenate([rgb, np.full((2, 2, 1), 7, np.uint8)], axis=2)  # alpha ignored
    path = tmp_path / "c.png"
    Image.fromarray(rgb, mode).save(path)
    expected = [[0.299, 0.587], [0.114, (0.299 * 100 + 0.587 * 150 + 0.114 * 200) / 255]]
    np.testing.assert_allclose(read_radiograph(path).array, expected, atol=1e-6)


def test_palette_png_becomes_luminance(tmp_path):
    image = Image.new("P", (2, 2))
    image.putpalette([0, 0, 0, 255, 255, 255, 255, 0, 0] + [0] * 759)
    image.putdata([0, 1, 2, 1])
    path = tmp_path / "p.png"
    image.save(path)
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 1], [0.299, 1]], atol=1e-6)


def test_jpeg_grey(tmp_path):
    path = tmp_path / "g.jpg"
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(path, quality=95)
    radiograph = read_radiograph(path)
    assert radiograph.shape == (16, 16)
    np.testing.assert_allclose(radiograph.array, 128 / 255, atol=2 / 255)


def test_16_bit_tiff_with_centimetre_resolution(tmp_path):
    path = tmp_path / "g.tif"
    values = np.array([[0, 1000], [30000, 65535]], np.uint16)
    Image.fromarray(values).save(path, resolution_unit=3, x_resolution=50.0, y_resolution=25.0)
    radiograph = read_radiograph(path)
    np.testing.assert_allclose(radiograph.array, values / 65535, atol=1e-7)
    assert radiograph.spacing_xy_mm == pytest.approx((0.2, 0.4))  # 10 mm / pixels per cm
    assert radiograph.spacing_source == "file"


def test_float_tiff_is_stretched_min_max(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(np.array([[-2.0, 0.0], [2.0, 6.0]], np.float32)).save(path)
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 0.25], [0.5, 1]], atol=1e-7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_fast_grey_png_path_matches_pillow(tmp_path, monkeypatch, dtype):
    values = np.random.default_rng(3).integers(0, np.iinfo(dtype).max, (40, 50), dtype=dtype)
    path = tmp_path / "g.png"
    Image.fromarray(values).save(path, dpi=(254, 127))
    assert pillow_reader.png_header(path).plain_grey  # takes the libpng path
    fast = read_radiograph(path)
    monkeypatch.setattr(pillow_reader, "_read_plain_grey_png", lambda source: None)
    pillow = read_radiograph(path)
    np.testing.assert_array_equal(fast.array, pillow.array)
    np.testing.assert_allclose(fast.array, values / np.iinfo(dtype).max, atol=1e-7)
    # 254 dpi = 10000 px/m → 0.1 mm; 127 dpi = 5000 px/m → 0.2 mm, on both paths.
    assert fast.spacing_xy_mm == pillow.spacing_xy_mm == pytest.approx((0.1, 0.2))


def test_png_with_significant_bits_is_not_shifted(tmp_path):
    values = np.array([[0, 4095], [1000, 12]], np.uint16)
    path = _grey16_png(tmp_path / "sbit.png", values, _png_chunk(b"sBIT", bytes([12])))
    assert not pillow_reader.png_header(path).plain_grey  # libpng would shift by sBIT
    np.testing.assert_allclose(read_radiograph(path).array, values / 65535, atol=1e-9)


def test_png_with_transparency_is_read_as_grey(tmp_path):
    values = np.array([[0, 4095], [1000, 12]], np.uint16)
    path = _grey16_png(tmp_path / "trns.png", values, _png_chunk(b"tRNS", b"\x00\x0c"))
    np.testing.assert_allclose(read_radiograph(path).array, values / 65535, atol=1e-9)


def test_rgb_png_spacing_comes_from_phys(tmp_path):
    path = tmp_path / "c.png"
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(path, dpi=(254, 254))
    radiograph = read_radiograph(path)
    assert radiograph.spacing_xy_mm == pytest.approx((0.1, 0.1))
    assert radiograph.spacing_source == "file"


@pytest.mark.parametrize("name", ["no_extension", "really_a_png.dcm"])
def test_png_is_recognised_by_its_signature_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    Image.fromarray(np.array([[0, 51], [102, 255]], np.uint8)).save(path, format="PNG")
    np.testing.assert_allclose(read_radiograph(path).array, [[0, 0.2], [0.4, 1.0]], atol=1e-7)


def test_png_at_a_software_default_72_dpi_has_no_spacing(tmp_path):
    path = tmp_path / "d.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path, dpi=(72, 72))
    assert read_radiograph(path).spacing_xy_mm is None


def test_multi_page_tiff_is_refused(tmp_path):
    path = tmp_path / "pages.tif"
    pages = [Image.fromarray(np.zeros((4, 4), np.uint8)) for _ in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with pytest.raises(InputError, match=r"pages\.tif: has 3 pages / frames"):
        read_radiograph(path)


# -------------------------------------------------------------------- NIfTI / MHA / NRRD
def test_3d_nifti_is_refused(tmp_path):
    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(sitk.Image(10, 12, 8, sitk.sitkInt16), str(path))
    with pytest.raises(InputError, match=r"ct\.nii\.gz: is a 3D volume of 10x12x8 voxels"):
        read_radiograph(path)


@pytest.mark.parametrize("suffix", [".nii.gz", ".mha"])
def test_2d_itk_image_is_read_with_its_spacing(tmp_path, suffix):
    image = sitk.GetImageFromArray(np.array([[0, 100, 200], [300, 400, 65535]], np.uint16))
    image.SetSpacing((0.3, 0.7))
    path = tmp_path / f"x{suffix}"
    sitk.WriteImage(image, str(path))
    radiograph = read_radiograph(path)
    assert radiograph.shape == (2, 3)
    assert radiograph.spacing_xy_mm == pytest.approx((0.3, 0.7))
    assert radiograph.spacing_source == "file"
    np.testing.assert_allclose(radiograph.array[1, 2], 1.0)


def test_single_slice_volume_is_read_as_a_radiograph(tmp_path):
    image = sitk.GetImageFromArray(np.arange(12, dtype=np.float32).reshape(1, 3, 4))
    image.SetSpacing((0.2, 0.4, 5.0))
    path = tmp_path / "slab.nrrd"
    sitk.WriteImage(image, str(path))
    radiograph = read_radiograph(path)
    assert radiograph.shape == (3, 4)
    assert radiograph.spacing_xy_mm == pytest.approx((0.2, 0.4))
    np.testing.assert_allclose(radiograph.array, np.arange(12).reshape(3, 4) / 11, atol=1e-7)


# --------------------------------------------------------------------------- bad inputs
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"radiograph .*nope\.dcm: no such file; check the path"):
        read_radiograph(tmp_path / "nope.dcm")


def test_folder(tmp_path):
    with pytest.raises(InputError, match=r"radiograph .*: is a folder, not a file"):
        read_radiograph(tmp_path)


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image\n")
    with pytest.raises(InputError, match=r"notes\.png: cannot be read as a PNG image"):
        read_radiograph(path)


def test_text_file_named_dcm(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("not an image at all, just some text in a file\n" * 5)
    with pytest.raises(InputError, match=r"notes\.dcm: (is not a DICOM image|cannot be read as)"):
        read_radiograph(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.touch()
    with pytest.raises(InputError, match=r"empty\.png: the file is empty \(0 bytes\)"):
        read_radiograph(path)


def test_unknown_extension(tmp_path):
    path = tmp_path / "scan.xyz"
    path.write_text("something")
    with pytest.raises(InputError, match=r"scan\.xyz: unknown file type '\.xyz'; give a DICOM"):
        read_radiograph(path)


def test_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    noise = np.random.default_rng(0).integers(0, 65535, (64, 64)).astype(np.uint16)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(InputError, match=r"cut\.png: the file is truncated .*PNG ends inside"):
        read_radiograph(path)


def test_messages_are_one_line(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(InputError) as caught:
        read_radiograph(path)
    assert "\n" not in str(caught.value)


# -------------------------------------------------------------------------------- writing
def test_png_round_trip_keeps_values_and_spacing(tmp_path):
    values = np.random.default_rng(2).random((20, 30), dtype=np.float32)
    path = write_radiograph(Radiograph(values, (0.143, 0.2)), tmp_path / "out" / "r.png")
    assert path == tmp_path / "out" / "r.png"
    back = read_radiograph(path)
    np.testing.assert_allclose(back.array, values, atol=0.5 / 65535 + 1e-7)
    # pHYs holds whole pixels per metre: 1000 / 0.143 = 6993.007 → 6993.
    assert back.spacing_xy_mm == pytest.approx((1000 / 6993, 0.2), rel=1e-12)
    assert back.spacing_xy_mm == pytest.approx((0.143, 0.2), rel=1e-4)
    assert back.spacing_source == "file"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_tiff_round_trip_keeps_values_and_spacing(tmp_path):
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    path = write_radiograph(Radiograph(values, (0.15, 0.175)), tmp_path / "r.tiff")
    back = read_radiograph(path)
    np.testing.assert_allclose(back.array, values, atol=0.5 / 65535 + 1e-7)
    assert back.spacing_xy_mm == pytest.approx((0.15, 0.175), rel=1e-6)


def test_written_png_is_16_bit_grey_with_rounded_clipped_values(tmp_path):
    values = np.array([[0.0, 0.5], [1.0, 2.0], [-1.0, np.nan]], np.float32)
    path = write_radiograph(Radiograph(values), tmp_path / "r.png")
    with Image.open(path) as image:
        assert image.mode == "I;16"
        assert "dpi" not in image.info  # no spacing, no pHYs
    np.testing.assert_array_equal(_pixels(path), [[0, 32768], [65535, 65535], [0, 0]])


def test_writing_an_unknown_extension_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"r\.jpg: cannot write '\.jpg' files; give a path"):
        write_radiograph(Radiograph(np.zeros((3, 3))), tmp_path / "r.jpg")
