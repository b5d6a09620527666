import dataclasses
from pathlib import Path

import pytest
import yaml

from handsign.config import load_params
from handsign.core.schema import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_declare_the_published_experiments():
    params = load_params(REPO / "params.yaml")
    assert {"sign_mnist_seed", "sign_mnist_cnn", "leapgestrecog_cnn", "fingers_cnn"} <= set(params.experiments)
    seed = params.experiment("sign_mnist_seed")
    assert (seed.training.model, seed.training.optimizer, seed.training.lr) == ("cnn_seed", "sgd", 0.002)
    assert (seed.training.momentum, seed.training.batch_size, seed.training.epochs) == (0.7, 64, 20)
    assert params.experiment("leapgestrecog_cnn").split == "subject"
    assert all(params.datasets[d].source == "synthetic" for d in params.datasets)


def test_an_experiment_inherits_the_defaults_it_does_not_override(tmp_path):
    path = tmp_path / "params.yaml"
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["lr"] = "1e-4"  # as `dvc exp run -S lr=1e-4` writes it: YAML 1.1 reads a string
    path.write_text(yaml.safe_dump(raw))
    params = load_params(path)
    assert params.experiment("fingers_cnn").training.lr == pytest.approx(1e-4)
    assert isinstance(params.experiment("fingers_cnn").training.lr, float)
    assert params.experiment("sign_mnist_seed").training.lr == 0.002  # its own value wins
    assert params.experiment("sign_mnist_cnn").training.lr == 0.1


def write(tmp_path, **changes):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lrr": 0.1}, "unknown key(s) lrr"),
        ({"epochs": "two"}, "epochs: expected an integer"),
        ({"optimizer": "rmsprop"}, "optimizer: 'rmsprop' is not one of sgd, adam"),
        ({"split__val_fraction": 0.9}, "split.val_fraction: must be between 0 and 0.5"),
        ({"synthetic__per_class_train": 0}, "synthetic.per_class_train: must be at least 1"),
        ({"lr": -1}, "lr: must be positive"),
        ({"experiments__fingers_cnn__lr": -1}, "experiments.fingers_cnn.lr: must be positive"),
        ({"experiments__fingers_cnn__lrr": 1}, "experiments.fingers_cnn: unknown key(s) lrr"),
        ({"experiments__fingers_cnn__image_size": 99}, "no prepared copy 'fingers_99' under data:"),
        ({"experiments__fingers_cnn__split": "subject"}, "split 'subject' is not among data.fingers_64.splits"),
        ({"data__fingers_64__image_size": 32}, "data.fingers_64: a copy of fingers at 32 px must be named 'fingers_32'"),
        ({"data__fingers_64__splits": ["auto"]}, "data.fingers_64.splits: 'auto' is not one of official, random, subject, loso"),
        ({"datasets__fingers__source": "web"}, "datasets.fingers.source: 'web' is not one of synthetic, local, kaggle"),
        ({"datasets__fingers__source": "local"}, "datasets.fingers.local_path: must name an archive or folder"),
        ({"data__fingers_64__resize": "fit"}, "data.fingers_64.resize: 'fit' is not one of stretch, letterbox, center_crop"),
        ({"experiments__fingers_cnn__freeze_backbone": True}, "freeze_backbone: set augment: false too"),
        ({"experiments__fingers_cnn__on_synthetic": {"split": "random"}}, "on_synthetic: only training keys"),
        ({"data__fingers_64__on_synthetic": {"frames": 2}}, "data.fingers_64.on_synthetic: only image_size"),
        ({"data__fingers_64__on_synthetic": {"image_size": 0}}, "on_synthetic.image_size: must be at least 1"),
        ({"precision": "fp16"}, "precision: 'fp16' is not one of auto, fp32, bf16"),
        ({"threads": -1}, "threads: 0 (one per core) or a count, got -1"),
        ({"on_synthetic": {"dataset": "fingers"}}, "on_synthetic: only training keys may be shrunk, not dataset"),
        ({"experiments__leapgestrecog_resnet18__split": "loso"}, "experiments.leapgestrecog_resnet18.split: loso folds are for"),
        ({"crossval__leapgestrecog_resnet18_loso__split": "subject"},
         "crossval.leapgestrecog_resnet18_loso.split: loso (leave one subject out) or a combined split"),
        ({"data__sign_mnist_28__combined__official_webcam__hold_out": "yes"}, "hold_out: true, false or a list of its add: sets"),
        ({"crossval__leapgestrecog_resnet18_loso__image_size": 64}, "split 'loso' is not among data.leapgestrecog_64.splits"),
        (
            {"crossval__fingers_cnn": {"dataset": "fingers", "image_size": 64, "model": "cnn_small"}},
            "experiments.fingers_cnn has this name too",
        ),
        (
            {"ensembles__sign_mnist_ensemble__pixel": "sign_mnist_landmarks"},
            "ensembles.sign_mnist_ensemble.pixel: 'sign_mnist_landmarks' is no pixel classifier under experiments:",
        ),
        (
            {"ensembles__sign_mnist_ensemble__landmarks": "sign_mnist_cnn"},
            "ensembles.sign_mnist_ensemble.landmarks: 'sign_mnist_cnn' is no landmark classifier under experiments:",
        ),
        (
            {"ensembles__sign_mnist_ensemble__pixel": "sign_mnist_cnn_webcam"},
            "sign_mnist_cnn_webcam has split 'official_webcam', the ensemble 'official': its members share one test split",
        ),
        (
            {
                "ensembles__fingers_cnn": {
                    "dataset": "fingers",
                    "image_size": 64,
                    "split": "official",
                    "pixel": "fingers_cnn",
                    "landmarks": "fingers_landmarks",
                }
            },
            "ensembles.fingers_cnn: experiments.fingers_cnn has this name too",
        ),
        ({"ensembles__sign_mnist_ensemble__members": ["sign_mnist_cnn"]}, "unknown key(s) ensembles.sign_mnist_ensemble.members"),
        ({"landmarks__sign_mnist__readings": "all"}, "landmarks.sign_mnist.readings: 'all' is not one of first, every"),
        ({"experiments__fingers_cnn__added_repeat": 0}, "experiments.fingers_cnn.added_repeat: must be at least 1, got 0"),
        ({"experiments__fingers_landmarks__reads": "data/prepared/fingers_64"},
         "experiments.fingers_landmarks.reads: data/landmarks/fingers (landmark_mlp_joints: a landmark model reads its "
         "dataset's hands), not 'data/prepared/fingers_64'"),
        ({"experiments__fingers_cnn__reads": "data/landmarks/fingers"},
         "experiments.fingers_cnn.reads: data/prepared/fingers_64 (cnn_small: it reads its prepared copy), not"),
    ],
)
def test_bad_params_are_named(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_params(write(tmp_path, **changes))


def test_overrides_use_dotted_keys():
    assert load_params(REPO / "params.yaml", {"split.seed": 7}).split.seed == 7


def test_on_synthetic_shrinks_the_demo_and_real_data_gets_the_published_settings(tmp_path):
    demo = load_params(REPO / "params.yaml").experiment("leapgestrecog_resnet18")
    assert (demo.training.epochs, demo.training.init) == (2, "random")
    real = load_params(write(tmp_path, datasets__leapgestrecog__source="kaggle")).experiment("leapgestrecog_resnet18")
    t = real.training
    assert (t.model, t.init, t.optimizer, t.lr, t.epochs, t.batch_size) == ("handsign_resnet18", "imagenet", "adam", 1e-4, 20, 8)
    assert real.split == "random" and real.image_size == 224


def test_every_experiment_on_synthetic_data_takes_the_top_level_on_synthetic_under_its_own(tmp_path):
    demo = load_params(REPO / "params.yaml")
    assert {e.training.threads for _, e in demo.every_experiment()} == {1}  # the demo: one torch thread a stage
    mixed = load_params(
        write(tmp_path, datasets__fingers__source="kaggle", experiments__sign_mnist_cnn__on_synthetic={"threads": 2})
    )
    assert mixed.experiment("fingers_cnn").training.threads == 0  # real data: PyTorch's default
    assert mixed.experiment("sign_mnist_cnn").training.threads == 2  # an experiment's own on_synthetic wins


def test_a_copy_is_prepared_at_its_demo_size_on_synthetic_data_only(tmp_path):
    demo = load_params(REPO / "params.yaml")
    assert demo.prepared_size("leapgestrecog_224") == 48 and demo.prepared_size("sign_mnist_28") == 28
    real = load_params(write(tmp_path, datasets__leapgestrecog__source="kaggle"))
    assert real.prepared_size("leapgestrecog_224") == 224


def test_a_crossval_resolves_like_an_experiment_on_the_loso_folds(tmp_path):
    params = load_params(REPO / "params.yaml")
    cv, single = params.crossval_experiment("leapgestrecog_resnet18_loso"), params.experiment("leapgestrecog_resnet18")
    assert cv.split == "loso" and cv.data_copy == "leapgestrecog_224"
    assert cv.training == dataclasses.replace(single.training, epochs=1)  # the demo trains each of its folds 1 epoch
    real = load_params(write(tmp_path, datasets__leapgestrecog__source="kaggle"))
    assert real.crossval_experiment("leapgestrecog_resnet18_loso").training == real.experiment("leapgestrecog_resnet18").training
    with pytest.raises(ConfigError, match="no cross-validation 'nope'"):
        params.crossval_experiment("nope")


def test_a_combined_split_holds_out_every_added_set_or_those_it_lists():
    params = load_params(REPO / "params.yaml")
    assert params.data["sign_mnist_28"].combined["signers"].held_out == ("asl_letters_webcam", "asl_letters_signer2",
                                                                          "asl_letters_signer3")  # fmt: skip
    assert params.data["sign_mnist_28"].combined["official_webcam"].held_out == ()
    one = load_params(REPO / "params.yaml", {"data.sign_mnist_28.combined.signers.hold_out": ["asl_letters_webcam"]})
    assert one.data["sign_mnist_28"].combined["signers"].held_out == ("asl_letters_webcam",)
    assert one.crossval_experiment("sign_mnist_landmarks_signers").split == "signers"  # still leaves sources out
    for bad in (["nope"], []):
        with pytest.raises(ConfigError, match="combined.signers.hold_out: true, false or a list of its add: sets"):
            load_params(REPO / "params.yaml", {"data.sign_mnist_28.combined.signers.hold_out": bad})


def test_a_crossvals_search_lists_each_combination_and_the_demo_its_own():
    """search: every combination of the declared values, in the declared order, each a training of
    its own; the synthetic source takes on_synthetic's search, real data the entry's."""
    real = {"datasets.sign_mnist.source": "local", "datasets.sign_mnist.local_path": "x"}
    cv = load_params(REPO / "params.yaml", real).crossval_experiment("sign_mnist_landmarks_signers")
    assert [(s, e.training.added_repeat) for s, e in cv.candidates()] == [({"added_repeat": 1}, 1), ({"added_repeat": 10}, 10)]
    assert all(e.search == {} and e.training.epochs == 60 for _, e in cv.candidates())
    demo = load_params(REPO / "params.yaml").crossval_experiment("sign_mnist_landmarks_signers")
    assert demo.search == {"added_repeat": (1, 2)} and demo.training.epochs == 15
    two = load_params(REPO / "params.yaml", {**real, "crossval.sign_mnist_landmarks_signers.search.lr": [0.01, "1e-3"]})
    settings = [s for s, _ in two.crossval_experiment("sign_mnist_landmarks_signers").candidates()]
    assert settings == [{"added_repeat": a, "lr": lr} for a in (1, 10) for lr in (0.01, 0.001)]
    # a plain experiment has one candidate, itself
    single = load_params(REPO / "params.yaml").experiment("sign_mnist_landmarks")
    assert single.candidates() == [({}, single)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"search.seed": [0, 1]}, "search: seed cannot be searched"),
        ({"search.model": ["landmark_mlp"]}, "search: model cannot be searched"),
        ({"search.added_repeat": []}, "search.added_repeat: expected a non-empty list"),
        ({"search.added_repeat": [1, "x"]}, r"search.added_repeat\[1\]: expected an integer"),
        ({"search.added_repeat": [0, 10]}, "added_repeat: must be at least 1"),
        ({"mirror": 0.5, "search.mirror": [0.0, 0.5]}, "search: mirror also set by the entry"),
    ],
)
def test_a_bad_search_is_named(changes, message):
    real = {"datasets.sign_mnist.source": "local", "datasets.sign_mnist.local_path": "x"}
    changes = {f"crossval.sign_mnist_landmarks_signers.{k}": v for k, v in changes.items()}
    with pytest.raises(ConfigError, match=message):
        load_params(REPO / "params.yaml", real | changes).crossval_experiment("sign_mnist_landmarks_signers")


def test_an_experiment_takes_its_recipe_and_overrides_what_differs():
    params = load_params(REPO / "params.yaml")
    r18, r50 = params.experiment("leapgestrecog_resnet18"), params.experiment("leapgestrecog_resnet50")
    recipe = params.recipes["handsign_resnet"]
    assert (r18.training.model, r18.training.batch_size, r18.training.lr) == (recipe["model"], 8, 1e-4)
    assert r50.training.model == "handsign_resnet50" and r50.training.batch_size == 8
    # on_synthetic merges key by key: the recipe's init: random stays, the experiment's epochs win.
    assert (r18.training.init, r18.training.epochs) == ("random", 2)
    assert (r50.training.init, r50.training.epochs) == ("random", 1)
    real = load_params(REPO / "params.yaml", {"datasets.leapgestrecog.source": "local", "datasets.leapgestrecog.local_path": "x"})
    assert (
        real.experiment("leapgestrecog_resnet50").training.init,
        real.experiment("leapgestrecog_resnet50").training.epochs,
    ) == (
        "imagenet",
        20,
    )


def test_a_recipe_change_reaches_exactly_the_experiments_that_name_it_and_do_not_override_it():
    """What `dvc exp run -S recipes.<name>.<key>=...` reruns: the configure stage rewrites the
    configs that change, and only their train and evaluate stages depend on them."""
    before = {n: e.to_json() for n, e in load_params(REPO / "params.yaml").every_experiment()}
    after = {
        n: e.to_json()
        for n, e in load_params(REPO / "params.yaml", {"recipes.imagenet_frozen_head.lr": 0.003}).every_experiment()
    }
    changed = {n for n in before if before[n] != after[n]}
    # fingers_resnet18_finetune names the recipe but sets its own lr.
    assert changed == {"experiments.sign_mnist_mobilenet_frozen", "experiments.fingers_resnet18_frozen"}


def test_each_recipe_is_written_once():
    lines = [line.split("#")[0].strip() for line in (REPO / "params.yaml").read_text().splitlines()]
    for line in ("batch_size: 8", "batch_size: 32", "model: handsign_resnet18", "model: landmark_mlp", "freeze_backbone: true"):
        assert lines.count(line) == 1, line


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"experiments.fingers_cnn.recipe": "nope"}, "experiments.fingers_cnn.recipe: no recipe 'nope' under recipes:"),
        ({"recipes.autoencoder.dataset": "fingers"}, "recipes.autoencoder: training keys and on_synthetic only, not dataset"),
    ],
)
def test_bad_recipes_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_params(REPO / "params.yaml", changes)


def test_params_yaml_is_the_one_source_of_defaults(tmp_path):
    """The code has no defaults of its own for what params.yaml declares: a missing key is named."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, message in (("epochs", "missing key\\(s\\) epochs"), ("synthetic", "missing key\\(s\\) synthetic")):
        path = tmp_path / f"without_{key}.yaml"
        path.write_text(yaml.safe_dump({k: v for k, v in raw.items() if k != key}))
        with pytest.raises(ConfigError, match=message):
            load_params(path)
    fields = dataclasses.fields(load_params(REPO / "params.yaml").synthetic)
    assert all(f.default is dataclasses.MISSING for f in fields)


def test_the_demo_reads_each_image_once_and_real_data_every_reading(tmp_path):
    """landmarks.<dataset>.on_synthetic: the synthetic source's detections are shrunk, never the real recipe's."""
    demo = load_params(REPO / "params.yaml")
    assert demo.landmarks["sign_mnist"].readings == "every" and demo.landmark_settings("sign_mnist").readings == "first"
    real = load_params(write(tmp_path, datasets__sign_mnist__source="local"))
    assert real.landmark_settings("sign_mnist").readings == "every"
    assert dataclasses.replace(real.landmark_settings("sign_mnist"), readings="first") == demo.landmark_settings("sign_mnist")
    with pytest.raises(ConfigError, match="on_synthetic: only readings may change, not confidence"):
        load_params(write(tmp_path, landmarks__sign_mnist__on_synthetic={"confidence": 0.5}))
