import zipfile

import numpy as np
import pytest
from conftest import SIGN_MNIST_ZIP, needs_real_sign_mnist

from handsign.datasets import sign_mnist
from handsign.datasets.base import DatasetFormatError

HEADER = ",".join(sign_mnist.HEADER)


def write_csv(path, rows):
    path.write_text(HEADER + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def good_row(label=0, value=7):
    return [label] + [value] * 784


def test_parses_rows_into_images_and_letter_labels(tmp_path):
    rows = [good_row(0, 1), good_row(24, 200), [3] + list(range(256)) + [0] * 528]
    images, labels = sign_mnist.read_csv(write_csv(tmp_path / "a.csv", rows))
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [0, 24, 3]
    assert images[2].ravel()[:256].tolist() == list(range(256))


@pytest.mark.parametrize(
    "rows, message",
    [
        ([good_row(), good_row()[:-1]], "row 2 has 784 columns, expected 785"),
        ([good_row(), good_row() + [1]], "row 2 has 786 columns"),
        ([good_row(), [0, "x"] + [1] * 783], "row 2 has a non-integer value 'x'"),
        ([good_row(), good_row(), [0, 256] + [1] * 783], "row 3 has a pixel outside 0..255 \\(256\\)"),
        ([good_row(), [0, -1] + [1] * 783], "row 2 has a pixel outside 0..255"),
        ([good_row(9)], "row 1 has unknown label 9"),
        ([good_row(), good_row(25)], "row 2 has unknown label 25"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path, rows, message):
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DatasetFormatError, match=rf"bad\.csv: {message}"):
        sign_mnist.read_csv(path)


def test_truncated_file_is_reported(tmp_path):
    path = write_csv(tmp_path / "t.csv", [good_row(), good_row()])
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DatasetFormatError, match="row 2 has .* columns, expected 785"):
        sign_mnist.read_csv(path)


def test_wrong_header_and_empty_file(tmp_path):
    (tmp_path / "h.csv").write_text("label,a,b\n1,2,3\n")
    with pytest.raises(DatasetFormatError, match="header is not label,pixel1"):
        sign_mnist.read_csv(tmp_path / "h.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DatasetFormatError, match="empty file"):
        sign_mnist.read_csv(tmp_path / "e.csv")


def test_csvs_are_found_anywhere_and_missing_ones_named(tmp_path):
    with pytest.raises(DatasetFormatError, match="no sign_mnist_train.csv anywhere"):
        sign_mnist.read(tmp_path)
    write_csv(tmp_path / "sign_mnist_train.csv", [good_row(1)])
    (tmp_path / "nested" / "sign_mnist_test").mkdir(parents=True)
    write_csv(tmp_path / "nested" / "sign_mnist_test" / "sign_mnist_test.csv", [good_row(2), good_row(3)])
    data = sign_mnist.read(tmp_path)
    assert data.official_splits == ["train", "test", "test"]
    assert [data.class_names[i] for i in data.labels] == ["B", "C", "D"]
    assert data.sources[1] == "nested/sign_mnist_test/sign_mnist_test.csv:1"


@needs_real_sign_mnist()
def test_real_rows_parse(tmp_path):
    """The first 200 rows of the real test CSV, through the same parser."""
    with zipfile.ZipFile(SIGN_MNIST_ZIP) as zf:
        name = next(n for n in zf.namelist() if n.endswith("sign_mnist_test.csv"))
        lines = zf.read(name).decode().splitlines()[:201]
    path = tmp_path / "sign_mnist_test.csv"
    path.write_text("\n".join(lines) + "\n")
    images, labels = sign_mnist.read_csv(path)
    assert images.shape == (200, 28, 28)
    assert set(labels.tolist()) <= set(sign_mnist.LETTER_LABELS)
    assert images.std() > 20  # real photographs, not a constant fill
