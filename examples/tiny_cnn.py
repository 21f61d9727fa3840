"""A tiny CNN for Fashion-MNIST-sized inputs (1 x 28 x 28), the README's example of a search for
the chip of your own network (no download, no weights needed)::

    PYTHONPATH=. cimnet-bo search --model examples.tiny_cnn:make_net --input-shape 1,1,28,28 \\
        --run runs/tiny-cnn --budget 40
"""

from __future__ import annotations

import torch
from torch import nn


def make_net(classes: int = 10) -> nn.Module:
    """Three 3x3 convolutions (16, 32, 64 channels, the last two with stride 2), batch norms and
    ReLUs, global average pooling and a linear classifier: 24 K weights."""
    layers: list[nn.Module] = []
    cin = 1
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


if __name__ == "__main__":
    print(make_net()(torch.zeros(1, 1, 28, 28)).shape)
