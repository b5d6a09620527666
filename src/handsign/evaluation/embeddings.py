"""What an autoencoder learned, measured: reconstruction error, how well its codes cluster by
class (k-means, scored by adjusted Rand index and normalised mutual information), what a linear
classifier reads from them (a probe), and reconstruction error as an anomaly score.

Labels are used here only to score the codes; the autoencoder never saw one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from handsign.core.runtime import to_device


@dataclass
class Encoded:
    codes: np.ndarray  # N x code size, float32
    errors: np.ndarray  # N: each image's mean squared reconstruction error (pixels in 0..1)


@torch.inference_mode()
def encode(model: nn.Module, images: np.ndarray, indices: np.ndarray, batch_size: int = 256) -> Encoded:
    """Codes and reconstruction errors of `images[indices]`, batch by batch (the images may be a memory map)."""
    model.eval()
    device = next(model.parameters()).device
    codes, errors = [], []
    for start in range(0, len(indices), batch_size):
        x = to_device(torch.from_numpy(np.ascontiguousarray(images[indices[start : start + batch_size]])), device)
        code = model.encoder(x)
        errors.append((model.decoder(code) - x / 255.0).pow(2).flatten(1).mean(1).cpu())
        codes.append(code.flatten(1).cpu())
    if not codes:
        return Encoded(np.empty((0, 0), np.float32), np.empty(0, np.float32))
    return Encoded(torch.cat(codes).numpy(), torch.cat(errors).numpy())


@torch.inference_mode()
def reconstruct(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """uint8 N x 1 x S x S images in, their reconstructions out (uint8, same shape)."""
    model.eval()
    device = next(model.parameters()).device
    out = model(to_device(torch.from_numpy(np.ascontiguousarray(images)), device)).float().cpu()
    return (out.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def psnr(mse: float) -> float:
    """dB, for pixels in 0..1."""
    return float(10 * np.log10(1.0 / max(mse, 1e-10)))


def cluster(codes: np.ndarray, labels: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, dict[str, float]]:
    """k-means with k clusters (k = the number of classes), and how well the clusters match the labels."""
    assigned = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(codes)
    scores = {
        "kmeans_ari": float(adjusted_rand_score(labels, assigned)),
        "kmeans_nmi": float(normalized_mutual_info_score(labels, assigned)),
    }
    return assigned, scores


def linear_probe(train_codes: np.ndarray, train_labels: np.ndarray, test_codes: np.ndarray, seed: int) -> np.ndarray:
    """Logistic regression fitted on the training split's codes; its predictions for the test codes."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return probe.fit(train_codes, train_labels).predict(test_codes)


def anomaly_auc(errors: np.ndarray, is_anomaly: np.ndarray) -> float:
    """ROC AUC of reconstruction error as a score for telling anomalies (a class never trained on) from the rest."""
    return float(roc_auc_score(is_anomaly, errors))


def map_2d(codes: np.ndarray, seed: int, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows drawn, their PCA map, their t-SNE map). t-SNE grows with the square of the points,
    so larger sets are drawn as a seeded sample of `max_points`."""
    rows = np.arange(len(codes))
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_points, replace=False))
    x = codes[rows]
    pca = PCA(n_components=2, random_state=seed).fit_transform(x)
    perplexity = float(min(30, max(2, (len(rows) - 1) // 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    return rows, pca, tsne
