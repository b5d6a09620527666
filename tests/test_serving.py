"""Using a trained model: predict on files, export with a parity check, the live camera and the
collector driven headless from a video the test writes, and the real `mlflow models serve`."""

import json
import os
import subprocess

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import BIN, cli, mlflow_serving, synthetic_params, tiny_experiment, tool_env, training
from PIL import Image

from handsign.config import DatasetParams
from handsign.data.preprocessing import Preprocessing
from handsign.datasets import get_spec
from handsign.pipeline.sources import fetch
from handsign.recognition.loading import from_checkpoint
from handsign.training.train import fit
from handsign.use.capture import Roi, grey
from handsign.use.collect import collect
from handsign.use.export import export
from handsign.use.mlflow_server import invoke
from handsign.use.serving import encode_file


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finger counter trained for real (32 px, 3 epochs) and the raw 128x128 images it came from."""
    root = tmp_path_factory.mktemp("serving")
    exp, store, split = tiny_experiment(root, per_class_train=20, image_size=32, epochs=3, optimizer="adam", lr=3e-3,
                                        augment=False)  # fmt: skip
    fit(exp, store, split, root / "model.pt", root / "last.pt")
    raw = sorted((root / "raw_fingers_20").rglob("*.png"))
    return root / "model.pt", raw


def handsign(*args, cwd=None):
    """The installed command, as a user runs it (where the environment it starts in matters)."""
    return subprocess.run([str(BIN / "handsign"), *map(str, args)], capture_output=True, text=True, env=tool_env(), cwd=cwd)


def test_the_checkpoint_carries_its_preprocessing(trained):
    checkpoint, _ = trained
    pre = from_checkpoint(checkpoint).preprocessing
    assert (pre.image_size, pre.resize, pre.class_names) == (32, "stretch", ["0", "1", "2", "3", "4", "5"])


def test_predict_files_folders_and_globs_and_skips_what_it_cannot_read(trained, tmp_path):
    checkpoint, raw = trained
    folder = tmp_path / "images"
    folder.mkdir()
    for f in raw[:3]:
        (folder / f.name).write_bytes(f.read_bytes())
    rgb = tmp_path / "colour.jpg"  # another size, in colour: the model preprocesses it itself
    Image.open(raw[3]).convert("RGB").resize((200, 150)).save(rgb)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    out = cli("predict", folder, str(tmp_path / "*.jpg"), broken, "--model", checkpoint, "--json", "-k", "2")
    assert out.returncode == 1  # one file failed
    result = json.loads(out.stdout)
    assert [r["path"] for r in result["predictions"]] == [str(folder / f.name) for f in raw[:3]] + [str(rgb)]
    assert list(result["errors"]) == [str(broken)] and "not an image file" in result["errors"][str(broken)]
    assert f"skipped {broken}" in out.stderr and "handsign: error" not in out.stderr  # skipped, named, no more
    classifier = from_checkpoint(checkpoint)
    expected = classifier.probabilities([Image.open(f) for f in raw[:3]] + [Image.open(rgb)])
    for row, p in zip(result["predictions"], expected, strict=True):
        assert [t["label"] for t in row["top"]] == [classifier.preprocessing.class_names[i] for i in np.argsort(-p)[:2]]
        assert row["top"][0]["probability"] == pytest.approx(p.max(), abs=1e-5)
    table = cli("predict", folder, "--model", checkpoint)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:2] == ["path", "top"]


def test_predict_decodes_and_classifies_in_batches_bounded_by_pixels(trained, tmp_path):
    """Batches of at most `batch_pixels` decoded pixels (memory flat whatever the count: `handsign
    bench memory`) give the answers of one batch; an image over `max_pixels` is refused by name,
    before it is decoded; no image at all is no crash; a landmark-free pixel model answers all."""
    from handsign.use.predict import predict_files

    checkpoint, raw = trained
    classifier = from_checkpoint(checkpoint)
    files = raw[:10]
    whole = predict_files(classifier, files)
    seen = []
    batched = predict_files(classifier, files, batch_pixels=3 * 128 * 128, progress=lambda done, total: seen.append(done))
    assert np.allclose(batched.probabilities, whole.probabilities, atol=1e-6) and batched.files == whole.files
    assert seen == [3, 6, 9, 10]  # three 128x128 images a batch
    big = tmp_path / "big.png"
    Image.new("RGB", (3000, 2000)).save(big)
    refused = predict_files(classifier, [files[0], big], max_pixels=5_000_000)
    assert refused.files == [files[0]]
    assert "3000x2000 is 6,000,000 pixels, over the limit of 5,000,000" in refused.errors[str(big)]
    empty = predict_files(classifier, [])
    assert empty.probabilities.shape == (0, 6) and empty.to_table(3).splitlines()[0].startswith("path")


def test_folders_and_globs_skip_hidden_files_and_never_follow_a_link_loop(trained, tmp_path):
    from handsign.use.predict import image_files

    _, raw = trained
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.png").write_bytes(raw[0].read_bytes())
    (folder / "._a.png").write_bytes(b"macOS resource fork")
    (folder / ".hidden.png").write_bytes(raw[1].read_bytes())
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "again").symlink_to(folder, target_is_directory=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    found, missing = image_files([str(folder), f"{folder}/**/*.png", str(empty), str(tmp_path / "nope.png")])
    assert found == [folder / "sub" / "a.png"]
    nope = str(tmp_path / "nope.png")
    assert missing == {str(empty): "a folder with no image files in it", nope: "no such file, folder or match"}


@pytest.mark.slow  # seconds (the ONNX exporter traces the model): make test runs it
def test_export_torchscript_and_onnx_match_pytorch_on_real_images(trained, tmp_path):
    checkpoint, raw = trained
    classifier = from_checkpoint(checkpoint)
    inputs = np.stack([classifier.preprocessing.array(Image.open(f)) for f in raw[:40]])
    results = {r.format: r for r in export(classifier, tmp_path, inputs)}
    assert set(results) == {"torchscript", "onnx"}
    for r in results.values():
        assert r.path.stat().st_size > 10_000 and r.same_labels and r.max_abs_diff < 1e-5, r
    saved = Preprocessing(**json.loads((tmp_path / "preprocessing.json").read_text()))
    assert saved == classifier.preprocessing


def write_video(path, images, roi, size=(320, 240)):
    """An MJPG video: a dark frame with each image in the region of interest, a frame per image."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    for f in images:
        frame = np.full((size[1], size[0], 3), 40, np.uint8)
        hand = np.asarray(Image.open(f).convert("L").resize((roi.w, roi.h)))
        frame[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w] = hand[:, :, None]
        writer.write(frame)
    writer.release()


def test_live_headless_classifies_the_region_of_interest_of_every_frame(trained, tmp_path):
    checkpoint, raw = trained
    roi = Roi.centred(320, 240)
    video = tmp_path / "hands.avi"
    made = cli("demo-video", *raw[:12], "--out", video, "--repeat", 1)
    assert made.returncode == 0, made.stderr
    out = cli("live", "--model", checkpoint, "--source", video, "--headless", "--screenshot", tmp_path / "live.png",
              "--out-video", tmp_path / "annotated.avi", "--out-csv", tmp_path / "frames.csv")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "live: 12 frames" in out.stdout
    with Image.open(tmp_path / "live.png") as screenshot:
        assert screenshot.size == (320, 240)
    rows = pd.read_csv(tmp_path / "frames.csv", dtype={"label": str})
    assert list(rows["frame"]) == list(range(1, 13))
    # The same frames, read back and cropped here, classified directly: the same answers.
    capture = cv2.VideoCapture(str(video))
    crops = [grey(roi.crop(capture.read()[1])) for _ in range(12)]
    classifier = from_checkpoint(checkpoint)
    p = classifier.probabilities(crops)
    assert list(rows["label"]) == [classifier.preprocessing.class_names[i] for i in p.argmax(1)]
    assert rows["probability"].to_numpy() == pytest.approx(p.max(1), abs=1e-5)
    annotated = cv2.VideoCapture(str(tmp_path / "annotated.avi"))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    ok, first = annotated.read()
    assert ok and np.abs(first[roi.y, roi.x + 5].astype(int) - (0, 255, 0)).max() < 60  # the green box is drawn


def test_collected_images_flow_through_download_and_prepare(trained, tmp_path):
    _, raw = trained
    roi = Roi.centred(320, 240)
    video = tmp_path / "hands.avi"
    write_video(video, raw[:12], roi)
    dataset = tmp_path / "my_fingers"
    train = collect(str(video), "fingers", "3L", dataset, "train", headless=True, every=2)
    test = collect(str(video), "fingers", "5R", dataset, "test", headless=True, every=4)
    assert len(train) == 6 and len(test) == 3
    assert all(Image.open(p).size == (128, 128) and Image.open(p).mode == "L" for p in train + test)
    # Exactly what the download stage (source: local) and the prepare stage do with a folder.
    local = DatasetParams(source="local", local_path=str(dataset))
    fetched = fetch("fingers", local, synthetic_params(), tmp_path / "raw", tmp_path)
    prepared = get_spec("fingers").read(fetched, 32)
    assert sorted(prepared.labels.tolist()) == [3] * 6 + [5] * 3
    assert sorted(prepared.official_splits) == ["test"] * 3 + ["train"] * 6 and set(prepared.groups) == {"L", "R"}
    leap = collect(str(video), "leapgestrecog", "ok", tmp_path / "my_leap", subject="07", headless=True, every=3)
    assert [p.name for p in leap] == [f"frame_07_07_{i:04d}.png" for i in range(1, 5)]
    frames = get_spec("leapgestrecog").read(tmp_path / "my_leap", 64)
    assert set(frames.groups) == {"07"} and set(frames.labels.tolist()) == {6}  # ok is the 7th gesture
    with pytest.raises(ValueError, match="Fingers labels are a count and a hand"):
        collect(str(video), "fingers", "7X", dataset)


def test_collected_letters_are_colour_photos_in_an_external_sets_class_folders(tmp_path):
    """Sign MNIST's download is a CSV: its letters are collected as an external set is laid out
    (<letter>/<n>.png, colour, 224 x 224), numbered on from what the folder holds."""
    from handsign.data.external import class_of, labelled_files

    video = tmp_path / "letters.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(8):
        frame = np.full((240, 320, 3), 40, np.uint8)
        frame[40:200, 80:240] = (60, 110, 210)  # BGR: a skin-coloured square, red above blue
        writer.write(frame)
    writer.release()
    letters = tmp_path / "my_letters"
    first = collect(str(video), "sign_mnist", "B", letters, headless=True, every=4)
    again = collect(str(video), "sign_mnist", "B", letters, headless=True, every=4)
    assert [p.relative_to(letters).as_posix() for p in first + again] == [f"B/{i:05d}.png" for i in range(4)]
    pixels = np.asarray(Image.open(first[0]))
    assert pixels.shape == (224, 224, 3) and pixels[..., 0].mean() > pixels[..., 2].mean() + 100  # RGB, colour kept
    files = [name for name, _ in labelled_files(letters)]
    assert [class_of(n.split("/")[0], list(get_spec("sign_mnist").class_names), {}, "mine") for n in files] == ["B"] * 4
    first[0].unlink()  # a photo deleted: the next goes after the last, overwriting none
    assert [p.name for p in collect(str(video), "sign_mnist", "B", letters, headless=True, every=8)] == ["00004.png"]
    with pytest.raises(ValueError, match="'J' is no class of sign_mnist"):
        collect(str(video), "sign_mnist", "J", letters, headless=True)


def logged_as_evaluate_logs(trained, tmp_path, name: str, register: bool = False) -> tuple[str, str]:
    """The trained checkpoint logged to a new run of a store in tmp_path as evaluate logs it (and
    registered as handsign-<name>-synthetic); returns the tracking URI and the run id."""
    from handsign import tracking
    from handsign.config import Experiment
    from handsign.use.serving import log_served_model

    checkpoint, raw = trained
    exp = Experiment(name, "fingers", "synthetic", 32, "official", training())
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    try:
        run_id = tracking.start_run(exp, tmp_path)
        log_served_model(run_id, tracking_uri, checkpoint, [Image.open(f) for f in raw[:2]])
        if register:
            tracking.register(tmp_path, run_id, tracking.registered_model_name(name, "synthetic"), 0.5)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    return tracking_uri, run_id


@pytest.mark.slow
def test_mlflow_models_serve_answers_as_predict_does(trained, tmp_path):
    """The model as evaluate logs and registers it, served by the real `mlflow models serve`."""
    import mlflow

    checkpoint, raw = trained
    tracking_uri, _ = logged_as_evaluate_logs(trained, tmp_path, "served", register=True)
    model_uri = "models:/handsign-served-synthetic@champion"
    serve = ["models", "serve", "-m", model_uri, "--env-manager", "local"]
    files = raw[:8]
    # Started as from a shell where the venv was never activated: the server's own `uvicorn` is found.
    with mlflow_serving(serve, "/ping", MLFLOW_TRACKING_URI=tracking_uri, PATH="/usr/bin:/bin") as url:
        served = pd.DataFrame(invoke(url, [encode_file(f) for f in files]))
    out = handsign("predict", *files, "--model", model_uri, "--json", "-k", "6", cwd=tmp_path)
    local = json.loads(out.stdout)["predictions"]
    assert out.returncode == 0
    assert list(served["label"]) == [row["top"][0]["label"] for row in local]
    for (_, s), row in zip(served.iterrows(), local, strict=True):
        for t in row["top"]:
            assert s[t["label"]] == pytest.approx(t["probability"], abs=1e-5)
    champion = mlflow.MlflowClient(tracking_uri).get_model_version_by_alias("handsign-served-synthetic", "champion")
    assert int(champion.version) == 1


class Payload:
    """What a tampered model file would carry: unpickling it runs `touch <marker>`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow
def test_a_tampered_pickle_in_a_logged_model_is_never_executed(trained, tmp_path):
    """The logged model is data (the checkpoint's tensors, read with weights_only) and handsign's
    installed code: a pickle payload put into it, as the checkpoint or beside it, runs nothing."""
    import mlflow
    import torch

    from handsign.use.serving import CHECKPOINT_FILE

    checkpoint, raw = trained
    tracking_uri, run_id = logged_as_evaluate_logs(trained, tmp_path, "tampered")
    local = tmp_path / "downloaded"
    mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(local), tracking_uri=tracking_uri)
    model = local / "model"
    assert not any(p.suffix in (".pkl", ".pth") for p in model.rglob("*")), "the logged model holds a pickled object"
    assert "code" not in mlflow.models.Model.load(str(model / "MLmodel")).flavors["python_function"]
    clean = mlflow.pyfunc.load_model(str(model))  # loads and answers as the checkpoint does
    files = [encode_file(f) for f in raw[:4]]
    expected = from_checkpoint(checkpoint).table(from_checkpoint(checkpoint).probabilities([Image.open(f) for f in raw[:4]]))
    assert list(clean.predict(pd.DataFrame({"image": files}))["label"]) == list(expected["label"])

    marker = tmp_path / "payload-ran"
    original = (model / "data" / CHECKPOINT_FILE).read_bytes()
    torch.save({"model": Payload(marker)}, model / "data" / CHECKPOINT_FILE)  # the checkpoint replaced: refused
    with pytest.raises(ValueError, match="not a checkpoint of plain tensors and values; refused, nothing in it was run"):
        mlflow.pyfunc.load_model(str(model))
    (model / "data" / "model.pth").write_bytes((model / "data" / CHECKPOINT_FILE).read_bytes())  # beside it: ignored
    (model / "data" / CHECKPOINT_FILE).write_bytes(original)
    assert list(mlflow.pyfunc.load_model(str(model)).predict(pd.DataFrame({"image": files}))["label"]) == list(expected["label"])
    assert not marker.exists(), "the payload ran"
    torch.load(model / "data" / "model.pth", weights_only=False)  # the payload is real: unpickled, it runs
    assert marker.exists()


def test_a_logged_ensemble_reads_only_checkpoint_files_in_its_own_folder(trained, tmp_path):
    """A served ensemble's data/ensemble.json names its members; one that names a path outside data/
    is refused before anything is read, and two copies of a model answer as the model."""
    import json
    import shutil

    from handsign.recognition.loading import Ensemble, load_logged

    checkpoint, raw = trained
    (tmp_path / "data").mkdir()
    for name in ("a.pt", "b.pt"):
        shutil.copyfile(checkpoint, tmp_path / "data" / name)
    manifest = tmp_path / "data" / "ensemble.json"
    for bad in (["../a.pt"], [], ["data/a.pt"], [".."]):
        manifest.write_text(json.dumps({"members": bad}))
        with pytest.raises(ValueError, match="must name checkpoint files in data/"):
            load_logged(tmp_path)
    manifest.write_text(json.dumps({"members": ["a.pt", "b.pt"]}))
    pair = load_logged(tmp_path)
    assert isinstance(pair, Ensemble) and len(pair.members) == 2
    images = [Image.open(f) for f in raw[:6]]
    alone = from_checkpoint(checkpoint).probabilities(images)
    assert pair.probabilities(images).argmax(1).tolist() == alone.argmax(1).tolist()


@pytest.mark.slow  # seconds: make test runs it, make test-fast does not
def test_an_mlflow_server_that_fails_names_its_log(tmp_path):
    """The server's output goes to a log file (a pipe would fill and block a talkative server), and
    a server that does not start says where that log is and what it said."""
    from handsign.use.mlflow_server import mlflow_process

    log = tmp_path / "server.log"
    server = mlflow_process(["no-such-command"], "/ping", log=log, timeout=60)
    with pytest.raises(RuntimeError, match=f"its output is in {log}") as failed, server:
        pass
    assert "no-such-command" in log.read_text() and "no-such-command" in str(failed.value).split(str(log))[1]


def test_handsign_serve_answers_every_readable_row_and_refuses_the_rest_in_a_line(trained, tmp_path):
    """The front door: answers as predict does; a bad row gets its own error while the others are
    answered; 0 rows, a body that is no JSON, an oversized request, an unknown path: a 4xx with a
    short JSON reason, never a stack trace nor the body echoed; the server stays up."""
    import http.client
    import threading

    from handsign.use.server import make_server

    checkpoint, raw = trained
    classifier = from_checkpoint(checkpoint)
    server = make_server(classifier, port=0, max_request_bytes=200_000, max_pixels=1_000_000)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def post(body: bytes, path: str = "/invocations") -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())

    big = tmp_path / "big.png"
    Image.new("L", (1200, 1000)).save(big)
    rows = [encode_file(raw[0]), "not base64!", encode_file(raw[1]), base64_of(b"GIF89a no image"), encode_file(big)]
    try:
        status, answer = post(json.dumps({"dataframe_split": {"columns": ["image"], "data": [[r] for r in rows]}}).encode())
        assert status == 200
        rows_out = answer["predictions"]
        expected = classifier.table(classifier.probabilities([Image.open(raw[0]), Image.open(raw[1])]))
        assert [rows_out[0]["label"], rows_out[2]["label"]] == list(expected["label"])
        assert rows_out[1] == {"error": "row 1: `image` is not base64 text"}
        assert rows_out[3]["error"].startswith("row 3: not an image file")
        assert "over the limit of 1,000,000" in rows_out[4]["error"]
        records = post(json.dumps({"dataframe_records": [{"image": encode_file(raw[0])}]}).encode())
        assert records[0] == 200 and records[1]["predictions"][0]["label"] == rows_out[0]["label"]
        secret = b"{not json " + b"x" * 1000 + b"SECRET"
        for body, code, said in [
            (json.dumps({"dataframe_split": {"columns": ["image"], "data": []}}).encode(), 400, "no rows to answer"),
            (secret, 400, "the body is not JSON"),
            (b"x" * 300_000, 413, "a body of 300,000 bytes is over the limit of 200,000"),
            (json.dumps({"inputs": []}).encode(), 400, "expected {\"dataframe_split\""),
            (json.dumps({"dataframe_split": {"columns": ["image"], "data": [["!!"]]}}).encode(), 400, "no row could be read"),
        ]:
            status, reply = post(body)
            assert status == code and said in reply["error"] and "SECRET" not in reply["error"], reply
            assert "Traceback" not in reply["error"] and len(reply["error"]) < 400
        assert post(b"{}", "/nowhere")[0] == 404
        assert post(json.dumps({"dataframe_records": [{"image": encode_file(raw[2])}]}).encode())[0] == 200  # still up
    finally:
        server.shutdown()
        server.server_close()


def base64_of(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def test_the_registered_models_pyfunc_answers_each_readable_row_and_names_the_rest(trained, tmp_path):
    """What `mlflow models serve` runs: a bad row gets its reason in the `error` column while the
    others are answered as predict answers them, in batches bounded by decoded pixels; a request
    with no readable row is refused, naming the rows."""
    from handsign.use.serving import ServedModel

    checkpoint, raw = trained
    classifier = from_checkpoint(checkpoint)
    rows = pd.DataFrame({"image": [encode_file(raw[0]), "not base64!", encode_file(raw[1]), base64_of(b"GIF89a no image")]})
    served = ServedModel(classifier).predict(rows)
    expected = classifier.table(classifier.probabilities([Image.open(raw[0]), Image.open(raw[1])]))
    assert list(served.columns) == [*expected.columns, "error"]
    assert list(served["label"].iloc[[0, 2]]) == list(expected["label"])
    np.testing.assert_allclose(served[["0", "5"]].iloc[[0, 2]].to_numpy(float), expected[["0", "5"]].to_numpy(float), atol=1e-6)
    assert list(served["error"].iloc[[0, 2]]) == ["", ""] and served["error"][1] == "row 1: `image` is not base64 text"
    assert served["error"][3].startswith("row 3: not an image file") and served["label"].iloc[[1, 3]].isna().all()
    with pytest.raises(ValueError, match="no row could be read: row 0: `image` is not base64 text"):
        ServedModel(classifier).predict(pd.DataFrame({"image": ["!!"]}))
