"""Train a small MLP on scikit-learn's bundled handwritten digits, tracked by runlab.

Run it through the wrapper, which records the config, git, the environment and
the output, and lets dotted overrides change the config:

    runlab run -c examples/digits/config.yaml model.hidden=[128] -- \
        python examples/digits/train.py

or on its own (``python examples/digits/train.py``), which makes a run itself.
The data (1,797 8x8 images) ships inside scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import runlab

DEFAULTS = Path(__file__).with_name("config.yaml")


def load_data(seed: int) -> tuple[np.ndarray, ...]:
    """Split the digits 80/20, scaled by the training part's statistics."""
    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data,
        digits.target,
        test_size=0.2,
        random_state=seed,
        stratify=digits.target,
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


def main() -> None:
    run = runlab.start(config=DEFAULTS)
    cfg = run.config
    x_train, x_val, y_train, y_val = load_data(cfg.seed)
    model = MLPClassifier(
        hidden_layer_sizes=tuple(cfg.model.hidden),
        learning_rate_init=cfg.optim.lr,
        alpha=cfg.optim.weight_decay,
        batch_size=cfg.batch_size,
        random_state=cfg.seed,
    )
    classes = np.unique(y_train)
    rng = np.random.default_rng(cfg.seed)
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train[order], y_train[order], classes=classes)
        val_acc = accuracy_score(y_val, model.predict(x_val))
        run.log(
            {
                "train/loss": model.loss_,
                "val/loss": log_loss(y_val, model.predict_proba(x_val), labels=classes),
                "val/acc": val_acc,
            },
            step=epoch,
        )
        run.checkpoint(model, epoch=epoch, score=val_acc)
        print(f"epoch {epoch:3d}  train/loss {model.loss_:.4f}  val/acc {val_acc:.4f}")
    best = run.best_checkpoint()
    run.note(f"Best val/acc checkpoint: {best.name if best else 'none'}.")
    run.finish()


if __name__ == "__main__":
    main()
