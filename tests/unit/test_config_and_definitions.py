import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.config import ConfigurationError, ScannerSettings, UploadEventSettings
from chalicelib.definitions.errors import DefinitionsUnavailableError
from chalicelib.definitions.manifest import read_definitions


def test_missing_settings_name_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="SCAN_STATE_MACHINE_ARN"):
        UploadEventSettings.from_env({"DATA_BUCKET": "b"})
    with pytest.raises(ConfigurationError, match="CLAMD_ADDRESS"):
        ScannerSettings.from_env({"CLAMAV_DATABASE_DIR": "/db"})


def test_malformed_numbers_are_rejected_with_the_variable_name() -> None:
    env = {"CLAMD_ADDRESS": "/s.sock", "CLAMAV_DATABASE_DIR": "/db", "MAX_SCAN_BYTES": "lots"}
    with pytest.raises(ConfigurationError, match="MAX_SCAN_BYTES"):
        ScannerSettings.from_env(env)
    with pytest.raises(ConfigurationError, match="must be positive"):
        ScannerSettings.from_env({**env, "MAX_SCAN_BYTES": "-1"})


def test_upload_prefix_always_ends_with_a_slash() -> None:
    settings = UploadEventSettings.from_env(
        {"DATA_BUCKET": "b", "SCAN_STATE_MACHINE_ARN": "arn", "UPLOAD_PREFIX": "in", "FILES_TABLE": "t"}
    )
    assert settings.upload_prefix == "in/"


def test_definitions_come_from_the_manifest(tmp_path: Path) -> None:
    manifest = {
        "version": "daily-27512",
        "built_at": "2026-11-29T03:00:00Z",
        "files": [{"name": "daily.cvd", "size": 1, "sha256": "0" * 64}],
        "signatures": 2_000_000,
        "min_signatures": 1_800_000,
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    definitions = read_definitions(tmp_path, "ClamAV 1.4.6")
    assert definitions.version == "daily-27512"
    assert definitions.built_at == datetime(2026, 11, 29, 3, tzinfo=UTC)


def test_official_databases_are_identified_from_clamd_version(tmp_path: Path) -> None:
    definitions = read_definitions(tmp_path, "ClamAV 1.4.6/27512/Sun Nov 29 08:27:02 2026")
    assert definitions.version == "daily-27512"
    assert definitions.built_at == datetime(2026, 11, 29, 8, 27, 2, tzinfo=UTC)


@pytest.mark.parametrize("manifest", ["not json", json.dumps({"version": "x"}), json.dumps({"built_at": "2026-01-01"})])
def test_a_broken_manifest_refuses_to_scan(tmp_path: Path, manifest: str) -> None:
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(DefinitionsUnavailableError):
        read_definitions(tmp_path, "ClamAV 1.4.6/27512/Sun Nov 29 08:27:02 2026")


def test_unidentifiable_definitions_refuse_to_scan(tmp_path: Path) -> None:
    with pytest.raises(DefinitionsUnavailableError, match="cannot tell"):
        read_definitions(tmp_path, "ClamAV 1.4.6")


def test_stale_definitions_refuse_to_scan(tmp_path: Path) -> None:
    definitions = read_definitions(tmp_path, "ClamAV 1.4.6/27512/Sun Nov 29 08:27:02 2026")
    now = datetime(2026, 11, 29, 8, 27, 2, tzinfo=UTC)
    definitions.require_fresh(timedelta(hours=48), now=now + timedelta(hours=47))
    with pytest.raises(DefinitionsUnavailableError, match=r"49\.0 h old"):
        definitions.require_fresh(timedelta(hours=48), now=now + timedelta(hours=49))
