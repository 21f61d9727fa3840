"""Weight-sharing ViT supernet: a subnet uses the first layers, heads and MLP units."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """Pre-norm transformer block whose attention heads and MLP units can be truncated.

    Parameters
    ----------
    hidden : int
        Token width.
    heads : int
        Heads held by the weights (the maximum a subnet may use).
    head_dim : int
        Width of one head.
    mlp : int
        MLP hidden units held by the weights.
    """

    def __init__(self, hidden: int, heads: int, head_dim: int, mlp: int) -> None:
        super().__init__()
        self.heads, self.head_dim, self.mlp = heads, head_dim, mlp
        self.norm1 = nn.LayerNorm(hidden)
        # Output rows are laid out [q heads | k heads | v heads], each heads*head_dim wide.
        self.qkv = nn.Linear(hidden, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, mlp)
        self.fc2 = nn.Linear(mlp, hidden)

    def sliced(self, heads: int, mlp: int) -> dict[str, torch.Tensor]:
        """The weights of a subnet with ``heads`` heads and ``mlp`` MLP units (views)."""
        w = heads * self.head_dim
        full = self.heads * self.head_dim
        rows = torch.cat([torch.arange(w) + i * full for i in range(3)]).to(self.qkv.weight.device)
        return {
            "norm1.weight": self.norm1.weight,
            "norm1.bias": self.norm1.bias,
            "qkv.weight": self.qkv.weight[rows],
            "qkv.bias": self.qkv.bias[rows],
            "proj.weight": self.proj.weight[:, :w],
            "proj.bias": self.proj.bias,
            "norm2.weight": self.norm2.weight,
            "norm2.bias": self.norm2.bias,
            "fc1.weight": self.fc1.weight[:mlp],
            "fc1.bias": self.fc1.bias[:mlp],
            "fc2.weight": self.fc2.weight[:, :mlp],
            "fc2.bias": self.fc2.bias,
        }

    def forward(self, x: torch.Tensor, heads: int | None = None, mlp: int | None = None) -> torch.Tensor:
        """x: (B x T x hidden) -> (B x T x hidden)."""
        heads = self.heads if heads is None else heads
        mlp = self.mlp if mlp is None else mlp
        p = self.sliced(heads, mlp) if (heads, mlp) != (self.heads, self.mlp) else dict(self.named_parameters())
        B, T, C = x.shape
        h = F.layer_norm(x, (C,), p["norm1.weight"], p["norm1.bias"])
        q, k, v = F.linear(h, p["qkv.weight"], p["qkv.bias"]).view(B, T, 3, heads, self.head_dim).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, heads * self.head_dim)
        x = x + F.linear(a, p["proj.weight"], p["proj.bias"])
        h = F.layer_norm(x, (C,), p["norm2.weight"], p["norm2.bias"])
        h = F.gelu(F.linear(h, p["fc1.weight"], p["fc1.bias"]))
        return x + F.linear(h, p["fc2.weight"], p["fc2.bias"])


class ViT(nn.Module):
    """Vision transformer; with per-layer ``heads`` and ``mlp`` lists it is a standalone
    network, and as a supernet (the largest lists) its ``forward(x, config)`` runs any subnet.

    Parameters
    ----------
    meta : mapping
        image, patch, in_chans, classes, hidden, head_dim (the space's meta).
    heads, mlp : list of int
        Heads and MLP units per layer (their length is the depth).
    """

    def __init__(self, meta: Mapping[str, Any], heads: list[int], mlp: list[int]) -> None:
        super().__init__()
        self.meta = dict(meta)
        self.patch, hidden = int(meta["patch"]), int(meta["hidden"])
        n_tokens = (meta["image"] // self.patch) ** 2 + 1
        self.patch_embed = nn.Linear(meta["in_chans"] * self.patch**2, hidden)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, hidden) * 0.02)
        self.blocks = nn.ModuleList(Block(hidden, h, meta["head_dim"], m) for h, m in zip(heads, mlp))
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, meta["classes"])
        self.apply(_init)

    @classmethod
    def supernet(cls, space) -> "ViT":
        top = space.extreme("max")
        n = int(top["num_layers"])
        return cls(space.meta, [top[f"heads_{i}"] for i in range(n)], [top[f"mlp_{i}"] for i in range(n)])

    def forward(self, x: torch.Tensor, config: Mapping[str, Any] | None = None) -> torch.Tensor:
        """x: (B x C x H x W) images -> (B x classes) logits; ``config`` selects a subnet."""
        B, C = x.shape[:2]
        p = self.patch
        x = x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(B, -1, C * p * p)
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + self.pos_embed
        depth = len(self.blocks) if config is None else int(config["num_layers"])
        for i in range(depth):
            if config is None:
                x = self.blocks[i](x)
            else:
                x = self.blocks[i](x, int(config[f"heads_{i}"]), int(config[f"mlp_{i}"]))
        return self.head(self.norm(x[:, 0]))

    def get_subnet(self, config: Mapping[str, Any]) -> "ViT":
        """A standalone :class:`ViT` with the weights of ``config`` copied out."""
        n = int(config["num_layers"])
        heads = [int(config[f"heads_{i}"]) for i in range(n)]
        mlp = [int(config[f"mlp_{i}"]) for i in range(n)]
        sub = ViT(self.meta, heads, mlp)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("blocks.")}
        for i in range(n):
            for k, v in self.blocks[i].sliced(heads[i], mlp[i]).items():
                state[f"blocks.{i}.{k}"] = v
        sub.load_state_dict({k: v.detach().clone() for k, v in state.items()})
        return sub


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
