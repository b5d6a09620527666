import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, synthetic_params

from handsign.config import load_params
from handsign.core.schema import ConfigError
from handsign.datasets import fingers, get_spec, leapgestrecog, sign_mnist
from handsign.synth import render_dataset

TINY = synthetic_params(seed=5, per_class_train=3, per_class_test=1, subjects=3, frames_per_gesture=2)


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    for name in ("sign_mnist", "leapgestrecog", "fingers"):
        render_dataset(name, root / name, TINY, TINY.seed)
    return root


@pytest.mark.parametrize("name", ["sign_mnist", "leapgestrecog", "fingers"])
def test_same_seed_gives_byte_identical_files(rendered, tmp_path, name):
    render_dataset(name, tmp_path / "again", TINY, TINY.seed)
    assert digest(tmp_path / "again") == digest(rendered / name)
    render_dataset(name, tmp_path / "other", TINY, TINY.seed + 1)
    assert digest(tmp_path / "other") != digest(rendered / name)


def test_sign_mnist_layout_and_balance(rendered):
    raw = rendered / "sign_mnist"
    assert (raw / "sign_mnist_train" / "sign_mnist_train.csv").is_file()
    assert (raw / "sign_mnist_test" / "sign_mnist_test.csv").is_file()
    header = (raw / "sign_mnist_train" / "sign_mnist_train.csv").read_text().splitlines()[0]
    assert header == "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    data = sign_mnist.read(raw)  # the parser the real archive goes through
    assert data.images.shape == (24 * 4, 1, 28, 28)
    train = Counter(int(label) for label, s in zip(data.labels, data.official_splits, strict=True) if s == "train")
    assert set(train.values()) == {3} and len(train) == 24


def test_leapgestrecog_layout_and_balance(rendered):
    raw = rendered / "leapgestrecog"
    assert (raw / "leapGestRecog" / "02" / "07_ok" / "frame_02_07_0002.png").is_file()
    frames = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*.png"))
    assert len(frames) == 3 * 10 * 2
    data = leapgestrecog.read(raw, image_size=32)
    assert Counter(data.labels.tolist()) == {c: 6 for c in range(10)}
    assert sorted(set(data.groups)) == ["00", "01", "02"]
    from PIL import Image

    with Image.open(raw / frames[0]) as img:
        assert img.size == (640, 240) and img.mode == "L"


def test_fingers_layout_and_balance(rendered):
    raw = rendered / "fingers"
    names = [p.name for p in (raw / "fingers" / "train").iterdir()]
    assert len(names) == 6 * 2 * 3
    assert Counter(n[-6:-4] for n in names) == {f"{c}{h}": 3 for c in range(6) for h in "LR"}
    data = fingers.read(raw)
    assert data.images.shape[1:] == (1, 128, 128)
    assert Counter(data.official_splits) == {"train": 36, "test": 12}


def test_nested_second_copy_is_not_counted_twice(rendered, tmp_path):
    import shutil

    shutil.copytree(rendered / "leapgestrecog", tmp_path / "leap")
    shutil.copytree(rendered / "leapgestrecog" / "leapGestRecog", tmp_path / "leap" / "leapgestrecog" / "leapGestRecog")
    assert len(leapgestrecog.read(tmp_path / "leap", image_size=16).labels) == 60
    shutil.copytree(rendered / "fingers", tmp_path / "fing")
    shutil.copytree(rendered / "fingers" / "fingers" / "train", tmp_path / "fing" / "train")
    assert len(fingers.read(tmp_path / "fing", image_size=16).labels) == 48


def test_golden_checksum_of_a_tiny_rendering(tmp_path):
    """Pins the renderer's output: a change here changes every synthetic dataset (say why, then update)."""
    params = synthetic_params(seed=1, per_class_train=1, per_class_test=1, subjects=1, frames_per_gesture=1)
    render_dataset("sign_mnist", tmp_path / "s", params, params.seed)
    csv = (tmp_path / "s" / "sign_mnist_test" / "sign_mnist_test.csv").read_bytes()
    assert hashlib.sha256(csv).hexdigest() == GOLDEN_SIGN_MNIST_TEST


def test_classes_render_differently(rendered):
    data = get_spec("sign_mnist").read(rendered / "sign_mnist")
    means = np.stack([data.images[data.labels == c].mean(axis=0).ravel() for c in range(24)])
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert distances[~np.eye(24, dtype=bool)].min() > 0


@pytest.mark.parametrize(
    "synthetic, message",
    [
        ({"per_class_train": 0}, "synthetic.per_class_train: must be at least 1"),
        ({"subjects": -2}, "synthetic.subjects: must be at least 1"),
        ({"seed": -1}, "synthetic.seed: must be 0 or more"),
        ({"frames_per_gesture": "many"}, "synthetic.frames_per_gesture: expected an integer"),
        ({"colour": 3}, "unknown key\\(s\\) synthetic.colour"),
    ],
)
def test_bad_renderer_params_are_rejected(synthetic, message):
    with pytest.raises(ConfigError, match=message):
        load_params(REPO / "params.yaml", {f"synthetic.{k}": v for k, v in synthetic.items()})


def test_unknown_dataset_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="no synthetic renderer for dataset 'mnist'"):
        render_dataset("mnist", tmp_path / "x", TINY, 0)
    assert not (tmp_path / "x").exists()


def test_the_renderers_are_registered_for_the_datasets_that_have_them():
    """Explicitly, by the renderer: the three Kaggle formats are drawn, a folder of your own is not."""
    from handsign.datasets import DATASETS
    from handsign.synth import RENDERERS

    assert set(RENDERERS) == {"sign_mnist", "leapgestrecog", "fingers"} == {n for n, s in DATASETS.items() if not s.local_only}


GOLDEN_SIGN_MNIST_TEST = "64095d39fd0e973b7c788cb260f810ef8075ea56bcac8640a140150f2b2d8322"


def test_corrupt_or_wrong_size_frame_is_named(rendered, tmp_path):
    import shutil

    from PIL import Image

    from handsign.core.imagefile import UnreadableImage
    from handsign.datasets.base import DatasetFormatError

    raw = tmp_path / "leap"
    shutil.copytree(rendered / "leapgestrecog", raw)
    frame = raw / "leapGestRecog" / "01" / "03_fist" / "frame_01_03_0002.png"
    frame.write_bytes(frame.read_bytes()[:100])
    with pytest.raises(UnreadableImage, match=r"frame_01_03_0002\.png: cannot read image"):
        leapgestrecog.read(raw, image_size=16)
    Image.new("L", (320, 120)).save(frame)
    with pytest.raises(DatasetFormatError, match=r"frame_01_03_0002\.png: image is 320x120, expected 640x240"):
        leapgestrecog.read(raw, image_size=16)


def test_fingers_file_with_a_bad_name_is_named(rendered, tmp_path):
    import shutil

    from handsign.datasets.base import DatasetFormatError

    raw = tmp_path / "fingers"
    shutil.copytree(rendered / "fingers", raw)
    (raw / "fingers" / "train" / "not-a-uuid_7X.png").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"not-a-uuid_7X\.png: name is not <uuid4>_<count 0-5><hand L\|R>\.png"):
        fingers.read(raw)
