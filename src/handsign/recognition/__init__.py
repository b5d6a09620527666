"""Recognisers: what predict, the served model, live, evaluate, the external sets and `handsign
score` call to turn images into class probabilities. Three kinds stand behind one interface
(`probabilities(images)`, `table(probabilities)`, `preprocessing.class_names`, `members`, `kind`,
`abstains`, `files()`, `requirements`): a pixel classifier (`pixels.Classifier`), a hand-landmark
classifier (`landmarks.HandClassifier`) and an ensemble of them (`ensemble.Ensemble`).
`loading.from_checkpoint` and `loading.load_logged` build the right one from a train-stage
checkpoint (`checkpoint.Checkpoint`, the one typed checkpoint) or a logged MLflow model.

This file imports nothing, so that the train stage, which writes checkpoints, does not run (and
rerun for) the recognisers' code."""
