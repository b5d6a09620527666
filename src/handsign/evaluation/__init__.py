"""Evaluation: metrics and figures, what an autoencoder learned, comparing runs, scoring a folder."""
