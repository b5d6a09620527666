"""The autoencoders: their architectures, the reconstruction task on the one training loop, the
scores of what they learned, a classifier started from an encoder, and a folder of your own images."""

import numpy as np
import pytest
import torch
from conftest import tiny_experiment
from PIL import Image

from handsign.config import load_params
from handsign.core.imagefile import UnreadableImage
from handsign.core.schema import ConfigError
from handsign.datasets import DatasetFormatError, get_spec
from handsign.models import Kind, build_model, check_model
from handsign.recognition.checkpoint import load_checkpoint
from handsign.recognition.loading import from_checkpoint
from handsign.training.train import SplitImages, fit
from handsign.training.warmstart import warm_start

AE_TRAINING = dict(optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=32, augment=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("autoencoder")


def linear_widths(module):
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("size", [28, 64])
def test_autoencoders_give_back_an_image_in_0_1_through_a_64_number_code(size):
    torch.manual_seed(0)
    x = torch.randint(0, 256, (3, 1, size, size)).float()
    for name in ("autoencoder_mlp", "autoencoder_conv"):
        model = build_model(name, num_classes=5, image_size=size).eval()
        with torch.no_grad():
            out, code = model(x), model.features(x)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1, name
        assert code.shape == (3, 64), name
    mlp = build_model("autoencoder_mlp", 5, image_size=size)
    d = size * size
    assert linear_widths(mlp.encoder) == [(d, 512), (512, 256), (256, 128), (128, 64)]  # as published
    assert linear_widths(mlp.decoder) == [(64, 128), (128, 256), (256, 512), (512, d)]
    assert isinstance(list(mlp.decoder.modules())[-1], torch.nn.Sigmoid)
    conv = build_model("autoencoder_conv", 5, image_size=size)
    assert sum(p.numel() for p in conv.parameters()) * 5 < sum(p.numel() for p in mlp.parameters())


@pytest.mark.slow  # seconds: make test runs it, make test-fast leaves it out
def test_the_conv_autoencoder_learns_and_reconstructs_better_than_the_mlp(root, tmp_path):
    # The loop trains on MSE without labels: the validation error falls, and the smaller conv net wins.
    final = {}
    for name in ("autoencoder_mlp", "autoencoder_conv"):
        exp, store, split = tiny_experiment(root, "sign_mnist", 28, 30, model=name, epochs=6, **AE_TRAINING)
        result = fit(exp, store, split, tmp_path / f"{name}.pt", tmp_path / f"{name}_last.pt")
        first, last = result.history[0], result.history[-1]
        assert last["val_loss"] < 0.8 * first["val_loss"], name
        assert last["val_psnr"] > first["val_psnr"] and "val_acc" not in last, name
        assert torch.load(tmp_path / f"{name}.pt")["task"] == "reconstruction"
        final[name] = last["val_loss"]
    assert final["autoencoder_conv"] < final["autoencoder_mlp"], final


def test_a_holdout_class_is_never_trained_on(root):
    exp, store, split = tiny_experiment(root, "sign_mnist", 28, 30)
    labels = store.samples["label"].to_numpy()
    for part in ("train", "val"):
        kept = SplitImages(store, split, part, Kind.AUTOENCODER, without="A")
        assert len(kept) == ((split == part) & (labels != 0)).sum() and (labels[kept.rows] != 0).all()
    with pytest.raises(ValueError, match="holdout_class 'J' is not a class of this dataset"):
        SplitImages(store, split, "train", Kind.AUTOENCODER, without="J")
    with pytest.raises(ValueError, match="holdout_class is for autoencoders"):
        check_model("cnn_small", holdout_class="A")
    check_model("autoencoder_conv", holdout_class="A")


def test_embedding_scores_tell_structure_from_none():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    blobs = rng.normal(size=(200, 8)) + 20 * np.eye(8)[labels]  # four far-apart clusters
    from handsign.evaluation import embeddings  # scikit-learn: seconds to import, for this test alone

    _, scores = embeddings.cluster(blobs, labels, 4, seed=0)
    assert scores["kmeans_ari"] > 0.99 and scores["kmeans_nmi"] > 0.99
    _, shuffled = embeddings.cluster(blobs, rng.permutation(labels), 4, seed=0)
    assert abs(shuffled["kmeans_ari"]) < 0.05
    assert (embeddings.linear_probe(blobs[::2], labels[::2], blobs[1::2], seed=0) == labels[1::2]).all()
    errors = np.r_[rng.uniform(0, 1, 100), rng.uniform(2, 3, 20)]
    is_anomaly = np.r_[np.zeros(100, bool), np.ones(20, bool)]
    assert embeddings.anomaly_auc(errors, is_anomaly) == 1.0 and embeddings.anomaly_auc(-errors, is_anomaly) == 0.0
    assert embeddings.psnr(0.01) == pytest.approx(20.0)
    rows, pca, tsne = embeddings.map_2d(blobs, seed=0, max_points=120)
    assert len(rows) == 120 == len(pca) == len(tsne) and pca.shape[1] == tsne.shape[1] == 2


def test_a_classifier_fine_tunes_from_an_autoencoders_encoder(root, tmp_path):
    exp, store, split = tiny_experiment(root, "fingers", 32, 20, model="autoencoder_conv", epochs=2, **AE_TRAINING)
    fit(exp, store, split, tmp_path / "ae.pt", tmp_path / "ae_last.pt")
    autoencoder, _ = load_checkpoint(tmp_path / "ae.pt")
    encoder_keys = {f"encoder.{k}" for k in autoencoder.encoder.state_dict()}

    classifier = build_model("encoder_conv", 6, image_size=32)
    report = warm_start(classifier, str(tmp_path / "ae.pt"))
    assert set(report.loaded) == encoder_keys and set(report.not_loaded) == {"head.weight", "head.bias"}
    assert all(k.startswith("decoder.") for k in report.unused)
    for k, v in autoencoder.encoder.state_dict().items():
        assert torch.equal(classifier.encoder.state_dict()[k], v)

    exp, store, split = tiny_experiment(root, "fingers", 32, 20, model="encoder_conv", init=str(tmp_path / "ae.pt"),
                                        epochs=3, **AE_TRAINING)  # fmt: skip
    result = fit(exp, store, split, tmp_path / "clf.pt", tmp_path / "clf_last.pt")
    assert result.warm_start is not None and set(result.warm_start.loaded) == encoder_keys
    assert "val_acc" in result.history[-1]
    with pytest.raises(ValueError, match="is an autoencoder: it reconstructs images"):
        from_checkpoint(tmp_path / "ae.pt")


def write_image(path, size, mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


def test_a_folder_of_your_own_images_flat_or_one_folder_per_class(tmp_path):
    images = get_spec("images")
    flat = tmp_path / "flat" / "my_photos"  # an unpacked archive's single top folder is looked into
    write_image(flat / "a.png", (40, 30))
    write_image(flat / "b.jpg", (100, 100), "RGB")
    data = images.read(tmp_path / "flat", 16)
    assert data.class_names == ["unlabelled"] and data.images.shape == (2, 1, 16, 16) and list(data.labels) == [0, 0]
    assert data.sources == ["my_photos/a.png", "my_photos/b.jpg"]

    classes = tmp_path / "classes"
    write_image(classes / "thumbs_up" / "x.png", (64, 48), value=200)
    write_image(classes / "fist" / "deeper" / "y.png", (20, 20), value=10)  # any depth below a class, as ImageFolder
    write_image(classes / "fist" / "z.bmp", (30, 30), "RGB")
    data = images.read(classes, 8, "letterbox")
    assert data.class_names == ["fist", "thumbs_up"]
    assert dict(zip(data.sources, data.labels.tolist(), strict=True)) == {
        "fist/z.bmp": 0, "fist/deeper/y.png": 0, "thumbs_up/x.png": 1,
    }  # fmt: skip
    assert data.images[2, 0, 0, 0] == 0 and data.images[2, 0, 4, 4] == 200  # letterboxed: black bars

    write_image(classes / "loose.png", (8, 8))
    with pytest.raises(DatasetFormatError, match="both loose images .* and class folders"):
        images.read(classes, 8)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no images"):
        images.read(tmp_path / "empty", 8)
    (flat / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UnreadableImage, match="broken.png: not an image file"):
        images.read(tmp_path / "flat", 8)


def test_the_images_dataset_comes_only_from_a_local_folder(tmp_path):
    with pytest.raises(ConfigError, match="datasets.images: is a folder of your own images; set source: local"):
        load_params(overrides={"datasets.images.source": "synthetic"})
    params = load_params(overrides={"datasets.images.source": "local", "datasets.images.local_path": str(tmp_path)})
    assert params.datasets["images"].local_path == str(tmp_path)
