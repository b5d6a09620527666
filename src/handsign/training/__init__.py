"""Training: the loop, its tasks (classification, reconstruction), DDP, starting from an earlier model."""
