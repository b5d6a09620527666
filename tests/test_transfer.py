"""Transfer learning: a frozen backbone trains its head alone on cached features, and a model can
start from an earlier run's weights (a checkpoint file or an MLflow model URI)."""

import pytest
import torch
from conftest import tiny_experiment, training

from handsign.core.runtime import seed_everything
from handsign.models import build_model
from handsign.training.train import fit, make_optimizer
from handsign.training.warmstart import warm_start


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("transfer")


def is_head(name: str) -> bool:
    return name.startswith("head.")


def test_a_frozen_backbone_sees_each_image_once_and_only_the_head_changes(root, tmp_path):
    exp, store, split = tiny_experiment(root, per_class_train=8, model="resnet18", freeze_backbone=True, augment=False,
                                        optimizer="adam", lr=1e-2, epochs=3, batch_size=16)  # fmt: skip
    import torchvision  # here, not at the top: seconds to import, which every pytest worker would pay collecting

    seed_everything(exp.training.seed)
    start = build_model("resnet18", len(store.class_names), 1, exp.image_size).state_dict()
    seen = []

    def count(module, args, output):
        if isinstance(module, torchvision.models.ResNet):
            seen.append(len(args[0]))

    hook = torch.nn.modules.module.register_module_forward_hook(count)
    try:
        result = fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    finally:
        hook.remove()
    # Three epochs, one pass of the backbone over the train and validation images.
    assert sum(seen) == int(((split == "train") | (split == "val")).sum())
    assert result.feature_seconds > 0
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    trained = torch.load(tmp_path / "model.pt", weights_only=True)["model"]
    frozen = [k for k in start if not is_head(k)]
    assert any("running_var" in k for k in frozen)  # BatchNorm statistics are among what must not move
    assert all(torch.equal(trained[k], start[k]) for k in frozen)
    assert not torch.equal(trained["head.weight"], start["head.weight"])


def test_weight_decay_spares_norms_and_biases():
    model = build_model("resnet18", 5, 1, 32)
    groups = make_optimizer(training(model="resnet18", weight_decay=1e-4), model).param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    bn = model.net.bn1
    assert id(model.net.conv1.weight) in decayed and id(model.head.weight) in decayed
    assert not {id(bn.weight), id(bn.bias), id(model.head.bias)} & decayed
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_init_from_a_checkpoint_loads_what_matches_by_name_and_shape(root, tmp_path):
    exp, store, split = tiny_experiment(root, epochs=1)  # fingers: 6 classes
    fit(exp, store, split, tmp_path / "source.pt", tmp_path / "source_last.pt")
    source = torch.load(tmp_path / "source.pt", weights_only=True)["model"]

    target = build_model("cnn_small", num_classes=10, image_size=32)  # LeapGestRecog's 10 gestures
    report = warm_start(target, str(tmp_path / "source.pt"))
    assert sorted(report.not_loaded) == ["head.1.bias", "head.1.weight"]
    assert "shape (6, 64) in the source, (10, 64) here" in report.not_loaded["head.1.weight"]
    state = target.state_dict()
    assert report.loaded and all(torch.equal(state[k], source[k]) for k in report.loaded)

    exp10, store10, split10 = tiny_experiment(root, dataset="leapgestrecog", epochs=1, init=str(tmp_path / "source.pt"))
    result = fit(exp10, store10, split10, tmp_path / "model.pt", tmp_path / "last.pt")
    assert result.warm_start is not None and set(result.warm_start.loaded) == set(report.loaded)

    with pytest.raises(ValueError, match="nothing in .* matches this model"):
        warm_start(build_model("resnet18", 10, 1, 32), str(tmp_path / "source.pt"))
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        warm_start(target, str(tmp_path / "missing.pt"))


def test_init_from_an_mlflow_model_uri_and_the_report_as_a_run_artifact(tmp_path, monkeypatch):
    import mlflow

    from handsign import tracking
    from handsign.use.serving import log_network

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    torch.manual_seed(1)
    source = build_model("cnn_small", num_classes=6, image_size=32)
    checkpoint = tmp_path / "model.pt"
    torch.save({"model": source.state_dict(), "model_name": "cnn_small", "class_names": list("012345"),
                "input_shape": [1, 32, 32]}, checkpoint)  # fmt: skip
    mlflow.set_tracking_uri(tracking.tracking_uri(tmp_path))
    with mlflow.start_run() as run:
        pass
    log_network(run.info.run_id, tracking.tracking_uri(tmp_path), checkpoint)  # as the evaluate stage logs models
    target = build_model("cnn_small", num_classes=6, image_size=32)
    report = warm_start(target, f"runs:/{run.info.run_id}/model", tmp_path)
    assert not report.not_loaded and not report.unused
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.state_dict().items())

    tracking.log_dict(tmp_path, run.info.run_id, report.to_dict(), "init_weights.json")
    logged = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/init_weights.json")
    assert logged["loaded"] == report.loaded
    with pytest.raises(ValueError, match="cannot load models:/no-such-model@champion"):
        warm_start(target, "models:/no-such-model@champion", tmp_path)
    with mlflow.start_run() as pickled:  # a model logged as handsign once did: a pickle, refused unread
        mlflow.log_text("not a checkpoint", "model/data/model.pth")
    with pytest.raises(ValueError, match="holds no data/model.pt: it was logged by an older handsign as a pickled network"):
        warm_start(target, f"runs:/{pickled.info.run_id}/model", tmp_path)
