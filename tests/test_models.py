"""The model registry: torchvision architectures adapted to greyscale, and where their weights start."""

import time
from pathlib import Path

import pytest
import torch

from handsign.hands import handfeatures
from handsign.models import AUTOENCODERS, LANDMARK_MODELS, MODELS, build_model, check_model
from handsign.models.weights import IMAGENET_FILES, find_imagenet, hub_cache

REPO = Path(__file__).resolve().parents[1]
MOBILENET = REPO.parent / "shared" / "weights" / "mobilenet_v2-b0353104.pth"


def imagenet():
    """handsign.models.imagenet, imported by the tests that use it: torchvision takes seconds to
    import, which every pytest worker would otherwise pay while collecting."""
    from handsign.models import imagenet as module

    return module


@pytest.mark.parametrize("name", ["handsign_resnet18", "resnet18", "mobilenet_v2"])
def test_greyscale_models_map_raw_pixels_to_one_logit_per_class(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=7, image_size=64).eval()
    x = torch.randint(0, 256, (2, 1, 64, 64)).float()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 7)
    assert (out < 0).any()  # logits, not post-ReLU scores


def test_handsign_model_is_the_published_stack():
    model = build_model("handsign_resnet50", num_classes=10, image_size=64)
    adapter = [m for m in model.adapter if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in adapter] == [(1, 3, (3, 3)), (3, 3, (3, 3))]
    assert model.backbone.fc.out_features == 1000 and model.backbone.fc.in_features == 2048  # a real ResNet-50
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1000, 500), (500, 100), (100, 10)]


def test_init_choices_are_checked_against_the_registry():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        check_model("vgg")
    with pytest.raises(ValueError, match="'cnn_small' has no ImageNet weights"):
        check_model("cnn_small", "imagenet")
    with pytest.raises(ValueError, match="init 'scratch' is not one of random, imagenet, a checkpoint file"):
        check_model("resnet18", "scratch")
    check_model("resnet18", "models/leapgestrecog_resnet18/model.pt")
    check_model("resnet18", "models:/handsign-fingers_resnet18-synthetic@champion")


def test_weight_file_names_and_cache_folder_are_torchvisions():
    for arch, name in IMAGENET_FILES.items():
        assert imagenet().IMAGENET_WEIGHTS[arch].url.endswith("/" + name)
    assert hub_cache() == Path(torch.hub.get_dir()) / "checkpoints"


def test_imagenet_offline_without_the_file_fails_fast_naming_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    start = time.monotonic()
    with pytest.raises(imagenet().WeightsUnavailable) as err:
        imagenet().imagenet_state_dict("resnet18")
    assert time.monotonic() - start < 10
    assert "resnet18-f37072fd.pth" in str(err.value) and str(tmp_path / "torch" / "hub" / "checkpoints") in str(err.value)
    assert "HANDSIGN_WEIGHTS" in str(err.value)


@pytest.mark.skipif(not MOBILENET.exists(), reason=f"real ImageNet weights absent: {MOBILENET} is only in the workplace")
def test_imagenet_weights_are_found_in_a_search_folder_with_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # empty: torchvision would have to download
    monkeypatch.setenv("HANDSIGN_WEIGHTS", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)  # no repository here: ../shared/weights is not beside it
    assert find_imagenet("mobilenet_v2") is None
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / IMAGENET_FILES["mobilenet_v2"]).symlink_to(MOBILENET)
    assert find_imagenet("mobilenet_v2") == tmp_path / "elsewhere" / IMAGENET_FILES["mobilenet_v2"]
    state = imagenet().imagenet_state_dict("mobilenet_v2")
    assert torch.equal(state["features.18.0.weight"], torch.load(MOBILENET, weights_only=True)["features.18.0.weight"])
    monkeypatch.delenv("HANDSIGN_WEIGHTS")
    monkeypatch.chdir(REPO)  # the repository: ../shared/weights beside it is searched
    assert find_imagenet("mobilenet_v2") == REPO.parent / "shared" / "weights" / IMAGENET_FILES["mobilenet_v2"]


@pytest.mark.skipif(not MOBILENET.exists(), reason=f"real ImageNet weights absent: {MOBILENET} is only in the workplace")
def test_imagenet_mobilenet_loads_through_torchvisions_cache_and_sums_rgb_into_grey(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = imagenet().imagenet_weights_file("mobilenet_v2")
    cached.parent.mkdir(parents=True)
    cached.symlink_to(MOBILENET)  # the weights API's own cache path; nothing is copied
    rgb = torch.load(MOBILENET, weights_only=True)
    model = build_model("mobilenet_v2", num_classes=24, image_size=64, init="imagenet")
    grey = model.net.features[0][0].weight
    assert grey.shape[1] == 1
    assert torch.allclose(grey, rgb["features.0.0.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(model.net.features[1].conv[0][1].running_var, rgb["features.1.conv.0.1.running_var"])
    assert model.head[-1].out_features == 24
    # On a grey image the one-channel conv computes what the RGB conv did on its three equal channels.
    x = torch.rand(1, 1, 32, 32)
    rgb_conv = torch.nn.functional.conv2d(x.expand(1, 3, 32, 32), rgb["features.0.0.weight"], stride=2, padding=1)
    assert torch.allclose(model.net.features[0][0](x), rgb_conv, atol=1e-5)


@pytest.mark.skipif(not MOBILENET.exists(), reason=f"real ImageNet weights absent: {MOBILENET} is only in the workplace")
def test_an_experiment_with_init_imagenet_trains_from_the_pretrained_weights(tmp_path, monkeypatch):
    from conftest import tiny_experiment

    from handsign.training.train import fit

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = imagenet().imagenet_weights_file("mobilenet_v2")
    cached.parent.mkdir(parents=True)
    cached.symlink_to(MOBILENET)
    exp, store, split = tiny_experiment(tmp_path, per_class_train=4, model="mobilenet_v2", init="imagenet",
                                        optimizer="adam", lr=1e-3, epochs=1, batch_size=16)  # fmt: skip
    fit(exp, store, split, tmp_path / "model.pt", tmp_path / "last.pt")
    trained = torch.load(tmp_path / "model.pt", weights_only=True)
    assert trained["config"]["training.init"] == "imagenet"
    # One epoch of Adam at 1e-3 moves the weights a little from ImageNet's, nowhere near a random init's.
    start = torch.load(MOBILENET, weights_only=True)["features.18.0.weight"]
    moved = (trained["model"]["net.features.18.0.weight"] - start).abs().mean() / start.abs().mean()
    assert 0 < moved < 0.2


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_builds_from_its_registry_line_and_runs(name):
    # The registry names each model's module and constructor as strings: a typo would only show
    # when that model is first built, so build each one.
    if name in LANDMARK_MODELS:  # rows of hand landmarks, not images
        model = build_model(name, num_classes=5, in_channels=handfeatures.WIDTH).eval()
        x = torch.randn(2, handfeatures.WIDTH)
    else:
        model = build_model(name, num_classes=5, image_size=32).eval()
        x = torch.randint(0, 256, (2, 1, 32, 32)).float()
    with torch.no_grad():
        out = model(x)
    assert out.shape == ((2, 1, 32, 32) if name in AUTOENCODERS else (2, 5))
    assert hasattr(model, "head") and hasattr(model, "features")


def test_the_world_landmark_model_reads_the_world_points_alone():
    """landmark_mlp_world: the same row in, only MediaPipe's 3-D points read (not the image points,
    not the handedness); landmark_mlp reads them all."""
    torch.manual_seed(0)
    rows = torch.randn(4, handfeatures.WIDTH)
    image, world = handfeatures.IMAGE, handfeatures.WORLD
    for name, reads_image in (("landmark_mlp_world", False), ("landmark_mlp", True)):
        model = build_model(name, num_classes=3, in_channels=handfeatures.WIDTH).eval()
        other_image, other_world = rows.clone(), rows.clone()
        other_image[:, image] += 1.0
        other_image[:, handfeatures.HANDEDNESS] *= -1  # the handedness too
        other_world[:, world] += 1.0
        with torch.no_grad():
            assert not torch.allclose(model(rows), model(other_world)), name
            assert torch.allclose(model(rows), model(other_image)) != reads_image, name
    from handsign.models.landmark import LandmarkMLP

    with pytest.raises(ValueError, match="unknown landmark inputs 'pixels'"):
        LandmarkMLP(num_classes=3, in_channels=handfeatures.WIDTH, inputs="pixels")


@pytest.mark.slow  # seconds: make test runs it, make test-fast does not
def test_a_new_model_is_a_module_and_a_registry_line(tmp_path):
    """docs/extending.md's worked model, added as it says, in a copy of the package: the module alone
    changes no stage's code fingerprint (it reruns nothing); registered, it builds, answers one logit
    per class as head(features(x)), is a pixel classifier, and an experiment naming it resolves."""
    import shutil
    import subprocess
    import sys

    from conftest import REPO

    from handsign.pipeline.fingerprint import fingerprint

    guide = (REPO / "docs" / "extending.md").read_text()
    module = guide.split("tests/test_models.py -->")[1].split("```python\n", 1)[1].split("```", 1)[0]
    line = guide.split("models/__init__.py`'s `MODELS`")[1].split("```python\n", 1)[1].split("```", 1)[0]
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    scripts = ("configure", "train", "evaluate")
    before = {s: fingerprint(tmp_path / "stages" / f"{s}.py", tmp_path) for s in scripts}
    (tmp_path / "src/handsign/models/wide.py").write_text(module)
    assert {s: fingerprint(tmp_path / "stages" / f"{s}.py", tmp_path) for s in scripts} == before
    registry = tmp_path / "src/handsign/models/__init__.py"
    anchor = '    "cnn_small": Entry("cnn", "SmallCNN", {}),\n'
    assert anchor in registry.read_text()
    registry.write_text(registry.read_text().replace(anchor, anchor + line))
    assert all(fingerprint(tmp_path / "stages" / f"{s}.py", tmp_path) != before[s] for s in scripts)
    check = f"""
import torch, yaml
from handsign.config import params_from_dict
from handsign.models import Kind, build_model, kind_of
from handsign.pipeline.resolve import check
model = build_model("cnn_wide", 6, 1, 32).eval()
x = torch.randint(0, 256, (4, 1, 32, 32)).float()
assert model(x).shape == (4, 6) and torch.equal(model.head(model.features(x)), model(x))
assert kind_of("cnn_wide") is Kind.PIXELS
raw = yaml.safe_load(open({str(REPO / "params.yaml")!r}))
raw["experiments"]["fingers_cnn_wide"] = dict(dataset="fingers", image_size=64, split="official",
                                              reads="data/prepared/fingers_64", model="cnn_wide")
check(params_from_dict(raw).experiment("fingers_cnn_wide"), "experiments.fingers_cnn_wide")
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr
