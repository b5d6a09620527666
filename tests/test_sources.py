import stat
import time
import zipfile

import pytest
from conftest import synthetic_params

from handsign.config import DatasetParams
from handsign.core.archives import SourceError, safe_extract
from handsign.pipeline.sources import fetch, from_kaggle


def test_archive_with_parent_paths_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("sign_mnist_train/ok.csv", "x")
        zf.writestr("../escape.txt", "x")
    with pytest.raises(SourceError, match=r"evil\.zip: member '\.\./escape\.txt' would escape"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_archive_with_absolute_path_or_link_is_refused(tmp_path):
    archive = tmp_path / "abs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("/etc/passwd", "x")
    with pytest.raises(SourceError, match="would escape"):
        safe_extract(archive, tmp_path / "out")
    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(link, "/etc")
    with pytest.raises(SourceError, match="would escape"):
        safe_extract(archive, tmp_path / "out")


def test_corrupt_archive_is_named(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SourceError, match="broken.zip: not a readable zip archive"):
        safe_extract(archive, tmp_path / "out")


def test_kaggle_without_credentials_fails_fast_naming_the_ways_out(tmp_path, monkeypatch):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nothing"))
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        from_kaggle("datamunge/sign-language-mnist", tmp_path / "out")
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "no Kaggle credentials" in message
    assert "source=local" in message and "source=synthetic" in message and "KAGGLE_KEY" in message


def test_kaggle_credentials_are_never_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key-value")
    monkeypatch.setattr("handsign.pipeline.sources.KAGGLE_HOST", ("127.0.0.1", 9))  # nothing listens: offline
    with pytest.raises(SourceError) as err:
        from_kaggle("datamunge/sign-language-mnist", tmp_path / "out")
    assert "cannot reach" in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_missing_local_path_leaves_no_output(tmp_path):
    source = DatasetParams(source="local", local_path=str(tmp_path / "absent.zip"))
    dest = tmp_path / "raw"
    with pytest.raises(SourceError, match="absent.zip does not exist"):
        fetch("sign_mnist", source, synthetic_params(), dest, tmp_path)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary leftovers either


def test_local_archive_of_the_wrong_dataset_is_rejected(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "not sign mnist")
    source = DatasetParams(source="local", local_path=str(archive))
    with pytest.raises(ValueError, match="no sign_mnist_train.csv anywhere"):
        fetch("sign_mnist", source, synthetic_params(), tmp_path / "raw", tmp_path)
    assert not (tmp_path / "raw").exists()
