"""The offline data source: procedurally rendered hands written in the exact Kaggle layouts.
`RENDERERS` registers which datasets it draws."""

from handsign.synth.writers import RENDERERS, render_dataset

__all__ = ["RENDERERS", "render_dataset"]
