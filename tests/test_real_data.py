"""The real Sign Language MNIST copy through the `local` source and the real stages (slow)."""

import hashlib
import json

import pandas as pd
import pytest
import yaml
from conftest import BIN, SIGN_MNIST_ZIP, needs_real_sign_mnist, run, without_external_sets

MD5 = {
    "sign_mnist_train.csv": "261dcaf233fc72e21bd024852c644e55",
    "sign_mnist_test.csv": "646c4952c08a4fde552d97a8b80dc296",
}


@pytest.mark.slow
@needs_real_sign_mnist()
def test_real_archive_through_the_pipeline(repo_copy, stage_host):
    repo = repo_copy
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["datasets"]["sign_mnist"].update(source="local", local_path=str(SIGN_MNIST_ZIP))
    params["experiments"]["sign_mnist_seed"].update(epochs=1, lr=0.02, momentum=0.9)  # quick, not the published recipe
    without_external_sets(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([str(BIN / "dvc"), "repro", "evaluate@sign_mnist_seed"], repo, **stage_host)

    for name, md5 in MD5.items():
        (path,) = (repo / "data/raw/sign_mnist").rglob(name)
        assert hashlib.md5(path.read_bytes()).hexdigest() == md5
    split = pd.read_csv(repo / "data/split/sign_mnist_28/official.csv", keep_default_na=False)
    assert len(split) == 27455 + 7172
    test = split[split["split"] == "test"]
    assert len(test) == 7172 and test["source"].str.contains("sign_mnist_test.csv").all()
    counts = test["class_name"].value_counts()
    assert counts["E"] == 498 and counts["R"] == 144 and "J" not in counts and "Z" not in counts
    assert abs((split["split"] == "val").sum() - round(0.1 * 27455)) <= 1
    metrics = json.loads((repo / "reports/sign_mnist_seed/metrics.json").read_text())
    assert metrics["n_test"] == 7172
    assert metrics["accuracy"] > 0.5  # one epoch of the seed network; chance is 1/24
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    assert int(client.get_model_version_by_alias("handsign-sign_mnist_seed-local", "champion").version) == 1
    assert not client.search_registered_models("name = 'handsign-sign_mnist_seed-synthetic'")
