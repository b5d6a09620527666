from pathlib import Path

import pytest

from handsign.config import ConfigError, load_params

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_load():
    params = load_params(REPO / "params.yaml")
    assert params.dataset == "sign_mnist"
    assert params.source == "synthetic"


def test_lr_written_by_dvc_as_1e_minus_4_is_a_float(tmp_path):
    # PyYAML reads `1e-4` (no dot) as a string; `dvc exp run -S lr=1e-4` writes exactly that.
    path = tmp_path / "params.yaml"
    path.write_text("lr: 1e-4\nepochs: 2\n")
    params = load_params(path)
    assert params.lr == pytest.approx(1e-4)
    assert isinstance(params.lr, float)


@pytest.mark.parametrize(
    "text, message",
    [
        ("lrr: 0.1\n", "unknown key(s) lrr"),
        ("epochs: two\n", "epochs: expected an integer"),
        ("optimizer: rmsprop\n", "optimizer: 'rmsprop' is not one of sgd, adam"),
        ("split: {val_fraction: 0.9}\n", "split.val_fraction: must be between 0 and 0.5"),
        ("synthetic: {per_class_train: 0}\n", "synthetic.per_class_train: must be at least 1"),
        ("lr: -1\n", "lr: must be positive"),
    ],
)
def test_bad_params_are_named(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_params(path)


def test_overrides_use_dotted_keys(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("split: {strategy: auto}\n")
    assert load_params(path, {"split.strategy": "subject"}).split.strategy == "subject"
