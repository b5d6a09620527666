"""Adding a dataset format is one module, one registry line and params.yaml entries: the worked
example of docs/extending.md, run through the real pipeline as the docs say to add it."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import BIN, REPO, run, warm_stage_host, without_external_sets
from PIL import Image

DVC = str(BIN / "dvc")


def ran(out, stage):
    return f"Running stage '{stage}'" in out.stdout


@pytest.mark.slow
def test_a_new_dataset_is_a_module_a_registry_line_and_params(repo_copy, monkeypatch):
    """docs/extending.md's worked example, done as it says: its module, one registry line and
    params.yaml entries; then the pipeline downloads, prepares, splits, trains and evaluates it."""
    repo = repo_copy
    guide = (REPO / "docs" / "extending.md").read_text()
    module = guide.split("tests/test_new_dataset.py -->")[1]
    module = module.split("```python\n", 1)[1].split("```", 1)[0]
    (repo / "src/handsign/datasets/subject_folders.py").write_text(module)
    registry = repo / "src/handsign/datasets/__init__.py"
    text = registry.read_text()
    line = "        fingers.SPEC,\n"
    assert text.count(line) == 1 and "subject_folders" not in text
    text = text.replace(line, line + "        subject_folders.SPEC,\n")
    registry.write_text(text.replace("import fingers, images,", "import fingers, images, subject_folders,"))

    crops = repo.parent / "my_crops"
    rng = np.random.default_rng(0)
    for subject in ("ann", "bob", "cem", "dia", "eve"):
        for gesture in ("fist", "palm"):
            for n in range(6):
                pixels = rng.integers(0, 60, (30, 40, 3), dtype=np.uint8)
                if gesture == "palm":
                    pixels[:, ::4] = 230  # fingers: bright stripes
                else:
                    pixels[8:22, 12:28] = 230  # a fist: one bright block
                (crops / gesture).mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(crops / gesture / f"{subject}_{n}.png")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    without_external_sets(params)  # (which every evaluate depends on; they have their own tests)
    # The guide's params.yaml entries, word for word, with the crops' folder and two epochs.
    declared = yaml.safe_load(guide.split("its source is `local`")[1].split("```yaml\n", 1)[1].split("```", 1)[0])
    for section, entries in declared.items():
        params[section].update(entries)
    params["datasets"]["subject_folders"]["local_path"] = str(crops)
    params["experiments"]["subject_folders_cnn"]["epochs"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    # The stages run the copy's handsign, new module included: so does the warm host they are sent
    # to (conftest.stage_host), started on the copy's src/ (it would not know the dataset otherwise).
    monkeypatch.setenv("PYTHONPATH", str(repo / "src"))
    with warm_stage_host(repo) as host:
        out = run([DVC, "repro", "evaluate@subject_folders_cnn"], repo, **host)
    for stage in ("download@subject_folders", "prepare@subject_folders_32", "split@subject_folders_32",
                  "train@subject_folders_cnn", "evaluate@subject_folders_cnn"):  # fmt: skip
        assert ran(out, stage), stage
    split = pd.read_csv(repo / "data/split/subject_folders_32/subject.csv", dtype={"group": str})
    assert len(split) == 60 and set(split["class_name"]) == {"fist", "palm"}
    held_out = set(split.loc[split["split"] == "test", "group"])
    assert held_out and held_out.isdisjoint(split.loc[split["split"] == "train", "group"])
    per_group = json.loads((repo / "reports/subject_folders_cnn/per_group.json").read_text())
    assert per_group["group"] == "subject" and set(per_group["test"]) == held_out
    predictions = pd.read_csv(repo / "reports/subject_folders_cnn/predictions.csv")
    assert len(predictions) == (split["split"] == "test").sum() and set(predictions["actual"]) <= {"fist", "palm"}
    assert "accuracy" in json.loads((repo / "reports/subject_folders_cnn/metrics.json").read_text())
