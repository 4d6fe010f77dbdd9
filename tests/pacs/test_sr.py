"""The DICOM SR of a spine reading: values, units, references and deterministic UIDs."""

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import Volume
from fracturelab.imaging.dicom_series_writer import DicomSeriesInfo, write_dicom_series
from fracturelab.pacs.sr import CODING_SCHEME, build_spine_sr, read_source_headers, sr_uids

#: A reading as vertebrae.json holds it (values chosen by hand).
RESULT = {
    "schema_version": "1.0",
    "vertebrae": [
        {
            "level": "L1", "label": 20, "status": "graded",
            "heights_mm": {"anterior": 17.9, "middle": 21.0, "posterior": 27.5},
            "height_loss_pct": 34.9, "genant_grade": 2, "morphology": "wedge",
            "fracture_probability": 0.83,
        },
        {
            "level": "L2", "label": 21, "status": "graded",
            "heights_mm": {"anterior": 26.0, "middle": 25.5, "posterior": 26.4},
            "height_loss_pct": 3.4, "genant_grade": 0, "morphology": "normal",
        },
        {"level": "L3", "label": 22, "status": "incomplete", "heights_mm": None,
         "height_loss_pct": None, "genant_grade": None, "morphology": None},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct")
    volume = Volume(np.zeros((6, 5, 3), np.float32), np.diag([0.8, 0.8, 2.0, 1.0]))
    info = DicomSeriesInfo(series_uid="1.2.826.0.1.3680043.8.498.77", patient_id="P7")
    files = write_dicom_series(volume, folder, info)
    return folder, files


def _measurements(group):
    return {m.name.value: (m.value, m.unit.value) for m in group.get_measurements()}


def test_sr_values_references_and_observer(series, tmp_path):
    import highdicom as hd
    import pydicom

    folder, files = series
    sources = read_source_headers(folder)
    sr = build_spine_sr(RESULT, sources, algorithm_version="0.1.0", model_hash="abcd1234")
    sr.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    back = hd.sr.srread(tmp_path / "sr.dcm")

    assert back.Modality == "SR"
    assert back.StudyInstanceUID == sources[0].StudyInstanceUID
    assert back.PatientID == "P7"
    assert back.SeriesInstanceUID != sources[0].SeriesInstanceUID
    # evidence: every source instance, by SOP class and instance UID
    evidence = back.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    assert [s.SeriesInstanceUID for s in evidence] == ["1.2.826.0.1.3680043.8.498.77"]
    referenced = {
        (r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID)
        for r in evidence[0].ReferencedSOPSequence
    }
    expected = {(d.SOPClassUID, d.SOPInstanceUID) for d in (pydicom.dcmread(f) for f in files)}
    assert referenced == expected and len(expected) == 3

    groups = {g.tracking_identifier: g for g in back.content.get_image_measurement_groups()}
    assert sorted(groups) == ["L1", "L2", "L3"]
    l1 = _measurements(groups["L1"])
    assert l1 == {
        "height-anterior": (17.9, "mm"), "height-middle": (21.0, "mm"),
        "height-posterior": (27.5, "mm"), "height-loss": (34.9, "%"),
        "genant-grade": (2.0, "1"), "fx-probability": (0.83, "1"),
    }  # fmt: skip
    assert "fx-probability" not in _measurements(groups["L2"])  # no model output for L2
    assert _measurements(groups["L2"])["genant-grade"] == (0.0, "1")
    assert _measurements(groups["L3"]) == {}
    (morphology,) = groups["L1"].get_qualitative_evaluations()
    assert (morphology.value.value, morphology.value.scheme_designator) == ("wedge", CODING_SCHEME)
    assert groups["L1"].finding_sites[0].value.value == "66794005"  # SNOMED CT: L1 vertebra

    (observer,) = back.content.get_observer_contexts()
    device = observer.observer_identifying_attributes
    assert (device.name, device.model_name, device.serial_number) == (
        "fracturelab",
        "fracturelab 0.1.0",
        "abcd1234",
    )


def test_same_inputs_same_uids_other_version_new_uids(series):
    folder, _ = series
    sources = read_source_headers(folder)
    first = build_spine_sr(RESULT, sources, algorithm_version="0.1.0", model_hash="m1")
    again = build_spine_sr(RESULT, sources, algorithm_version="0.1.0", model_hash="m1")
    assert (first.SeriesInstanceUID, first.SOPInstanceUID) == (
        again.SeriesInstanceUID,
        again.SOPInstanceUID,
    )
    uids = sr_uids("1.2.826.0.1.3680043.8.498.77", "0.1.0", "m1")
    assert (uids.series, uids.instance) == (first.SeriesInstanceUID, first.SOPInstanceUID)
    for other in (sr_uids("1.2.826.0.1.3680043.8.498.77", "0.2.0", "m1"),
                  sr_uids("1.2.826.0.1.3680043.8.498.77", "0.1.0", None),
                  sr_uids("1.2.826.0.1.3680043.8.498.78", "0.1.0", "m1")):  # fmt: skip
        assert other.series != uids.series and other.instance != uids.instance


def test_bad_inputs_are_one_line_errors(series, tmp_path):
    folder, _ = series
    sources = read_source_headers(folder)
    with pytest.raises(InputError, match="no vertebrae"):
        build_spine_sr({"vertebrae": []}, sources)
    with pytest.raises(InputError, match="no source instances"):
        build_spine_sr(RESULT, [])
    with pytest.raises(InputError, match="no DICOM instance"):
        read_source_headers(tmp_path)
