"""prepare: parse and validate data/raw/<dataset> into one uint8 tensor copy at one image size."""

from handsign.config import load_params
from handsign.core import layout
from handsign.datasets import get_spec
from handsign.pipeline.stage import run_stage


def prepare(copy: str) -> None:
    params = load_params()
    if copy not in params.data:
        raise ValueError(f"{copy!r} is not declared under data: in params.yaml")
    spec = params.data[copy]
    size = params.prepared_size(copy)
    if size != spec.image_size:
        print(
            f"prepare: {copy} at {size} px, not {spec.image_size}: the synthetic demo's size "
            f"(data.{copy}.on_synthetic in params.yaml; real data is prepared at {spec.image_size} px)"
        )
    data = get_spec(spec.dataset).read(layout.raw(spec.dataset), size, spec.resize)
    data.save(layout.prepared(copy), spec.dataset, spec.resize)
    shape, classes = data.images.shape[1:], len(data.class_names)
    print(f"prepare: {len(data.labels)} images {shape} ({spec.resize}), {classes} classes -> {layout.prepared(copy)}")
    if data.identical_neighbours:
        # The real LeapGestRecog repeats frames; the split stage lists any that straddle two splits.
        print(f"prepare: {data.identical_neighbours} image files are byte-identical to the one before them (kept)")


if __name__ == "__main__":
    run_stage("prepare", prepare, "A prepared copy declared under `data:` in params.yaml (<dataset>_<image size>).")
