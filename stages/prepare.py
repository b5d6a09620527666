"""prepare: parse and validate data/raw into uint8 image tensors, labels and class names (data/prepared)."""

from handsign import layout
from handsign.config import Params
from handsign.datasets import get_format
from handsign.stage import run_stage


def prepare(params: Params) -> None:
    data = get_format(params.dataset).read(layout.RAW, params.image_size)
    data.save(layout.PREPARED, params.dataset)
    print(f"prepare: {len(data.labels)} images {data.images.shape[1:]}, {len(data.class_names)} classes -> {layout.PREPARED}")


if __name__ == "__main__":
    run_stage("prepare", prepare)
