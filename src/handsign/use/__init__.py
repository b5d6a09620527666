"""Using a trained model: predict, the served MLflow model, export, the live camera."""
