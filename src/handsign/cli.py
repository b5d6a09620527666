"""The `handsign` command: tools around the DVC pipeline (the stages themselves run via `dvc repro`)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="handsign: train and serve hand-gesture recognisers. The pipeline runs with `dvc repro`; "
    "these commands render synthetic data, draw contact sheets and measure speed.",
    no_args_is_help=True,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that print numbers (run them alone: two torch jobs share 2 cores badly).")
app.add_typer(bench_app, name="bench")


@app.command()
def synth(
    dataset: str = typer.Argument(..., help="sign_mnist | leapgestrecog | fingers"),
    out: Path = typer.Argument(..., help="Folder to write, in the dataset's Kaggle layout (must not exist)."),
    seed: int = typer.Option(0, help="Renderer seed: the same seed and counts give byte-identical files."),
    per_class_train: int = typer.Option(60, help="Images per class in the training file/folder."),
    per_class_test: int = typer.Option(20, help="Images per class in the test file/folder."),
    subjects: int = typer.Option(4, help="Distinct hands (LeapGestRecog: subject folders)."),
    frames_per_gesture: int = typer.Option(20, help="LeapGestRecog: frames per subject and gesture."),
) -> None:
    """Render a synthetic dataset, exactly as the download stage's `synthetic` source does."""
    from handsign.atomic import atomic_path
    from handsign.config import ConfigError, SyntheticParams, params_from_dict
    from handsign.synth import render_dataset

    if out.exists():
        raise typer.BadParameter(f"{out} exists; choose a new folder")
    raw = {
        "dataset": dataset,
        "synthetic": {
            "seed": seed,
            "per_class_train": per_class_train,
            "per_class_test": per_class_test,
            "subjects": subjects,
            "frames_per_gesture": frames_per_gesture,
        },
    }
    try:
        params = params_from_dict(raw)
    except ConfigError as e:
        raise typer.BadParameter(str(e)) from None
    p: SyntheticParams = params.synthetic
    with atomic_path(out) as tmp:
        render_dataset(params.dataset, tmp, p, p.seed)
    typer.echo(f"wrote synthetic {dataset} to {out}")


if __name__ == "__main__":
    app()
