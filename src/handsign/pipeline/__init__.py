"""The pipeline's plumbing: where files go, DVC runs and the warm stage host, data sources, pinned
weights, devices and seeds, MLflow tracking."""
