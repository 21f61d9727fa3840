"""Weight-sharing MobileNetV3-style supernet (as in OFA): elastic depth, kernel and expand.

A subnet uses the first blocks of each stage, the first expanded channels of each block and
the centre k x k of each depthwise kernel. BatchNorm statistics are re-estimated per subnet
(:func:`recalibrate_bn`) before evaluation.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cimnet_bo.workload.families import make_divisible


class _BN(nn.BatchNorm2d):
    def forward_first(self, x: torch.Tensor, c: int) -> torch.Tensor:
        """BatchNorm over the first ``c`` channels of this layer (running stats are views)."""
        if c == self.num_features:
            return super().forward(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        return F.batch_norm(
            x,
            self.running_mean[:c],
            self.running_var[:c],
            self.weight[:c],
            self.bias[:c],
            self.training,
            momentum,
            self.eps,
        )


class MBBlock(nn.Module):
    """Inverted residual: expand 1x1 -> depthwise k x k -> [SE] -> project 1x1 (+ residual).

    Parameters
    ----------
    cin, cout : int
        Input and output channels.
    mid : int
        Expanded channels held by the weights (the largest a subnet may use).
    kernel : int
        Depthwise kernel held by the weights (smaller kernels use its centre).
    stride : int
        Depthwise stride.
    se : bool
        Squeeze-and-excite after the depthwise convolution.
    """

    def __init__(self, cin: int, cout: int, mid: int, kernel: int, stride: int, se: bool) -> None:
        super().__init__()
        self.cin, self.cout, self.mid, self.kernel, self.stride, self.se = cin, cout, mid, kernel, stride, se
        self.expand = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = _BN(mid)
        self.dw = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self.bn2 = _BN(mid)
        if se:
            red = make_divisible(mid // 4)
            self.se_fc1 = nn.Conv2d(mid, red, 1)
            self.se_fc2 = nn.Conv2d(red, mid, 1)
        self.project = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = _BN(cout)

    def forward(self, x: torch.Tensor, kernel: int | None = None, mid: int | None = None) -> torch.Tensor:
        """x: (B x cin x H x W) -> (B x cout x H' x W')."""
        k = self.kernel if kernel is None else kernel
        m = self.mid if mid is None else mid
        h = F.hardswish(self.bn1.forward_first(F.conv2d(x, self.expand.weight[:m]), m))
        off = (self.kernel - k) // 2
        w = self.dw.weight[:m, :, off : off + k, off : off + k]
        h = F.hardswish(self.bn2.forward_first(F.conv2d(h, w, None, self.stride, k // 2, 1, m), m))
        if self.se:
            red = make_divisible(m // 4)
            s = h.mean((2, 3), keepdim=True)
            s = F.relu(F.conv2d(s, self.se_fc1.weight[:red, :m], self.se_fc1.bias[:red]))
            s = F.hardsigmoid(F.conv2d(s, self.se_fc2.weight[:m, :red], self.se_fc2.bias[:m]))
            h = h * s
        h = self.bn3(F.conv2d(h, self.project.weight[:, :m]))
        if self.stride == 1 and self.cin == self.cout:
            h = h + x
        return h

    def export(self, kernel: int, mid: int) -> "MBBlock":
        """A standalone block with the weights of (kernel, mid) copied out."""
        b = MBBlock(self.cin, self.cout, mid, kernel, self.stride, self.se)
        off = (self.kernel - kernel) // 2
        red = make_divisible(mid // 4)
        src = {
            "expand.weight": self.expand.weight[:mid],
            "dw.weight": self.dw.weight[:mid, :, off : off + kernel, off : off + kernel],
            "project.weight": self.project.weight[:, :mid],
        }
        for bn in ("bn1", "bn2"):
            for t in ("weight", "bias", "running_mean", "running_var"):
                src[f"{bn}.{t}"] = getattr(getattr(self, bn), t)[:mid]
            src[f"{bn}.num_batches_tracked"] = getattr(self, bn).num_batches_tracked
        for t in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            src[f"bn3.{t}"] = getattr(self.bn3, t)
        if self.se:
            src.update(
                {
                    "se_fc1.weight": self.se_fc1.weight[:red, :mid],
                    "se_fc1.bias": self.se_fc1.bias[:red],
                    "se_fc2.weight": self.se_fc2.weight[:mid, :red],
                    "se_fc2.bias": self.se_fc2.bias[:mid],
                }
            )
        b.load_state_dict({k: v.detach().clone() for k, v in src.items()})
        return b


class MBV3(nn.Module):
    """MobileNetV3-style network from a space's meta and per-stage block lists.

    Parameters
    ----------
    meta : mapping
        The ``mbv3`` family description (image, in_chans, classes, stem, stem_stride,
        stages [{width, stride, se}], final_expand).
    stages : list of list of (kernel, expand)
        Blocks of each stage. The supernet holds ``max_depth`` blocks of the largest kernel
        and expand ratio per stage.
    """

    def __init__(self, meta: Mapping[str, Any], stages: list[list[tuple[int, float]]]) -> None:
        super().__init__()
        if meta.get("first_block") or meta.get("feature_mix"):
            raise ValueError("the torch MBV3 supernet supports first_block=0 and feature_mix=0 only")
        self.meta = dict(meta)
        stem = meta["stem"]
        self.stem = nn.Conv2d(meta["in_chans"], stem, 3, meta.get("stem_stride", 2), 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(stem)
        self.stages = nn.ModuleList()
        cin = stem
        for spec, blocks in zip(meta["stages"], stages):
            stage = nn.ModuleList()
            for j, (k, e) in enumerate(blocks):
                stride = spec["stride"] if j == 0 else 1
                stage.append(MBBlock(cin, spec["width"], make_divisible(cin * e), k, stride, bool(spec.get("se"))))
                cin = spec["width"]
            self.stages.append(stage)
        self.final = nn.Conv2d(cin, meta["final_expand"], 1, bias=False)
        self.final_bn = nn.BatchNorm2d(meta["final_expand"])
        self.classifier = nn.Linear(meta["final_expand"], meta["classes"])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @classmethod
    def supernet(cls, space) -> "MBV3":
        top = space.extreme("max")
        slots = space.meta["max_depth"]
        stages = [
            [(top[f"ks_{s * slots + j}"], top[f"e_{s * slots + j}"]) for j in range(slots)]
            for s in range(len(space.meta["stages"]))
        ]
        return cls(space.meta, stages)

    def _plan(self, config: Mapping[str, Any] | None):
        """(stage, block, kernel, mid) of every block a config runs."""
        slots = self.meta.get("max_depth", 4)
        for s, stage in enumerate(self.stages):
            depth = len(stage) if config is None else int(config[f"d_{s}"])
            for j in range(depth):
                blk = stage[j]
                if config is None:
                    yield blk, None, None
                else:
                    i = s * slots + j
                    yield blk, int(config[f"ks_{i}"]), make_divisible(blk.cin * config[f"e_{i}"])

    def forward(self, x: torch.Tensor, config: Mapping[str, Any] | None = None) -> torch.Tensor:
        """x: (B x C x H x W) images -> (B x classes) logits; ``config`` selects a subnet."""
        h = F.hardswish(self.stem_bn(self.stem(x)))
        for blk, k, m in self._plan(config):
            h = blk(h, k, m)
        h = F.hardswish(self.final_bn(self.final(h)))
        return self.classifier(h.mean((2, 3)))

    def get_subnet(self, config: Mapping[str, Any]) -> "MBV3":
        """A standalone :class:`MBV3` with the weights of ``config`` copied out."""
        slots = self.meta.get("max_depth", 4)
        stages = [
            [(int(config[f"ks_{s * slots + j}"]), config[f"e_{s * slots + j}"]) for j in range(int(config[f"d_{s}"]))]
            for s in range(len(self.stages))
        ]
        sub = MBV3(self.meta, stages)
        blocks = [blk.export(k, m) for blk, k, m in self._plan(config)]
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("stages.")}
        sub.load_state_dict(
            {
                **{k: v.clone() for k, v in state.items()},
                **{
                    f"stages.{s}.{j}.{k}": v
                    for (s, j), b in zip([(s, j) for s, st in enumerate(stages) for j in range(len(st))], blocks)
                    for k, v in b.state_dict().items()
                },
            }
        )
        return sub


@torch.no_grad()
def recalibrate_bn(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> None:
    """Re-estimate every BatchNorm's running statistics on ``images`` (n x C x H x W):
    cumulative averages over the batches, as OFA does before evaluating a subnet."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    for i in range(0, len(images), batch_size):
        model(images[i : i + batch_size])
    for m, (mom, tr) in zip(bns, saved):
        m.momentum = mom
        m.train(tr)
