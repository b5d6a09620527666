"""The offline data source: procedurally rendered hands written in the exact Kaggle layouts."""

from handsign.synth.writers import render_dataset

__all__ = ["render_dataset"]
