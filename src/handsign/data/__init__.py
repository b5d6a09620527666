"""Images and splits: reading image files, a model's preprocessing, deterministic splits, external test sets."""
