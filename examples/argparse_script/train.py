"""A script that knows nothing of runlab: argparse flags in, prints out.

Tracked without a line changed:

    runlab run -- python examples/argparse_script/train.py --lr 0.05 --epochs 5

The wrapper records the parsed flags (lr, epochs, momentum, seed) as the run's
config and the printed lines as its log.
"""

from __future__ import annotations

import argparse
import math
import random


def main() -> None:
    parser = argparse.ArgumentParser(description="Fit y = 3x + 1 by gradient descent.")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    data = [
        (x, 3 * x + 1 + rng.gauss(0, 0.1))
        for x in (rng.uniform(-1, 1) for _ in range(64))
    ]
    w = b = velocity_w = velocity_b = 0.0
    for epoch in range(args.epochs):
        grad_w = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
        grad_b = sum(2 * (w * x + b - y) for x, y in data) / len(data)
        velocity_w = args.momentum * velocity_w - args.lr * grad_w
        velocity_b = args.momentum * velocity_b - args.lr * grad_b
        w, b = w + velocity_w, b + velocity_b
        loss = sum((w * x + b - y) ** 2 for x, y in data) / len(data)
        print(f"epoch {epoch} loss {loss:.5f} w {w:.3f} b {b:.3f}")
    print(f"final rmse {math.sqrt(loss):.4f}")


if __name__ == "__main__":
    main()
