"""Supernet training: sandwich rule with in-place distillation, seeded and resumable.

Every step trains the largest subnet on the labels, then the smallest and ``n_random``
random subnets on the largest subnet's soft predictions (in-place distillation, as in
BigNAS / OFA), accumulating gradients before one optimiser step. During the first
``kd_warmup_epochs`` the other subnets learn from the labels too: distilling from a teacher
that is still near-uniform holds a ViT supernet back badly (on Fashion-MNIST, 33 % instead
of 79 % val accuracy after 150 steps). Subnet draws, data order
and augmentation are functions of (seed, step), so a run resumed from a checkpoint takes
exactly the same path as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cimnet_bo.core import atomic_write, check_output_path
from cimnet_bo.space import get_subnet_space
from cimnet_bo.supernet import build_supernet
from cimnet_bo.supernet.data import load_split, sha256, to_tensor
from cimnet_bo.supernet.recipes import FAMILY_SPACES, TrainConfig


def _flip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    mask = torch.rand(x.shape[0], generator=g) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def _crop(x: torch.Tensor, g: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels (zero padding), per image."""
    B, _, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), value=float(x.min()))
    i = torch.randint(0, 2 * pad + 1, (B,), generator=g)
    j = torch.randint(0, 2 * pad + 1, (B,), generator=g)
    rows = (i[:, None] + torch.arange(H))[:, :, None]
    cols = (j[:, None] + torch.arange(W))[:, None, :]
    return xp[torch.arange(B)[:, None, None], 0, rows, cols].unsqueeze(1)


#: Augmentations by name (:data:`~cimnet_bo.supernet.recipes.AUGMENT_NAMES`).
AUGMENTS = {"none": lambda x, g: x, "flip": _flip, "flip+crop": lambda x, g: _crop(_flip(x, g), g)}


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up then cosine decay to zero."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _save_atomic(obj: Any, path: Path) -> None:
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def check_device(name: str) -> torch.device:
    """The torch device ``name`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``), checked to exist here.

    Raises
    ------
    ValueError
        An unknown device name, or a device this machine does not have.
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; e.g. 'cpu', 'cuda', 'cuda:1', 'mps'") from None
    available = {
        "cpu": lambda: True,
        "cuda": lambda: torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": lambda: torch.backends.mps.is_available(),
    }
    if not available.get(device.type, lambda: False)():
        raise ValueError(f"device {name!r} is not available on this machine")
    return device


def git_commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


#: Recipe fields that say where and how fast a run executes, not what it computes: a run may be
#: resumed with other values (started on a GPU, finished on a CPU, say).
RUNTIME_FIELDS = ("device", "threads", "checkpoint_every", "idx_dir")


def _math(recipe: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in recipe.items() if k not in RUNTIME_FIELDS}


def train_supernet(
    cfg: TrainConfig,
    run_dir: str | Path,
    out: str | Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) a supernet; returns the metadata written next to ``out``.

    Parameters
    ----------
    cfg : TrainConfig
        The recipe.
    run_dir : path
        Holds ``last.pt`` (resume point, written every ``checkpoint_every`` steps and at each
        epoch end) and ``log.csv`` (loss and largest-subnet val accuracy per epoch).
    out : path, optional
        Where to write the final weights (``.pt``) and metadata (``.json``).
    progress : bool
        Show a progress bar.
    stop_after : int, optional
        Stop (checkpointed) after this many steps in this call, as an interruption would;
        calling again resumes.
    """
    from cimnet_bo.supernet.evaluator import accuracy_of

    run_dir = check_output_path(run_dir, "training run folder", folder=True)
    if out is not None:
        check_output_path(out, "supernet checkpoint")
    check_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    space = get_subnet_space(FAMILY_SPACES[cfg.family])
    model = build_supernet(space).to(cfg.device)
    if cfg.family == "cnn":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    images, labels = load_split(cfg.train_split, idx_dir=cfg.idx_dir)
    if cfg.limit:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    x_all, y_all = to_tensor(images), torch.from_numpy(labels.astype(np.int64))
    val_x, val_y = load_split("val")
    calib = to_tensor(load_split("calib")[0])
    steps_per_epoch = max(1, len(x_all) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    step, t_spent = 0, 0.0
    ckpt = run_dir / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location=cfg.device, weights_only=False)
        if _math(state["recipe"]) != _math(dataclasses.asdict(cfg)):
            raise ValueError(f"{ckpt} was written with another recipe: {state['recipe']}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, t_spent = state["step"], state["seconds"]
    top, bottom = space.extreme("max"), space.extreme("min")

    def save() -> None:
        _save_atomic(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "seconds": t_spent + time.time() - t0,
                "recipe": dataclasses.asdict(cfg),
            },
            ckpt,
        )

    t0 = time.time()
    bar = tqdm(total=total, initial=step, disable=not progress, desc=f"train {space.name}", unit="step")
    log = run_dir / "log.csv"
    if not log.exists():
        log.write_text("epoch,step,loss,val_acc_max,seconds\n")
    model.train()
    loss_sum, n_loss = 0.0, 0
    stop_at = total if stop_after is None else min(total, step + stop_after)
    while step < stop_at:
        epoch, pos = divmod(step, steps_per_epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(x_all))
        idx = torch.from_numpy(order[pos * cfg.batch_size : (pos + 1) * cfg.batch_size])
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        x = AUGMENTS[cfg.augment](x_all[idx], g).to(cfg.device)
        if cfg.family == "cnn":
            x = x.contiguous(memory_format=torch.channels_last)
        y = y_all[idx].to(cfg.device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, total, warmup, cfg.lr)
        opt.zero_grad(set_to_none=True)
        logits = model(x, top)
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        loss.backward()
        soft = logits.detach().softmax(1)
        distill = step >= cfg.kd_warmup_epochs * steps_per_epoch
        rng = np.random.default_rng([cfg.seed, step, 1])
        for sub in [bottom] + space.sample(cfg.n_random, rng):
            sub_logits = model(x, sub)
            if distill:
                sub_loss = -(soft * F.log_softmax(sub_logits, 1)).sum(1).mean()
            else:
                sub_loss = F.cross_entropy(sub_logits, y, label_smoothing=cfg.label_smoothing)
            sub_loss.backward()
        opt.step()
        loss_sum, n_loss = loss_sum + loss.item(), n_loss + 1
        step += 1
        bar.update(1)
        bar.set_postfix(epoch=epoch, loss=f"{loss_sum / n_loss:.3f}")
        end_of_epoch = step % steps_per_epoch == 0
        if end_of_epoch or step % cfg.checkpoint_every == 0:
            save()
        if end_of_epoch:
            model.eval()
            acc = accuracy_of(model, top, to_tensor(val_x[:2000]), val_y[:2000], calib)
            model.train()
            with open(log, "a") as f:
                f.write(f"{epoch},{step},{loss_sum / n_loss:.4f},{acc:.4f},{t_spent + time.time() - t0:.0f}\n")
            bar.write(f"epoch {epoch}: loss {loss_sum / n_loss:.4f}, largest-subnet val acc (2k) {acc:.4f}")
            loss_sum, n_loss = 0.0, 0
    bar.close()
    if step < total:
        save()
        return {"steps": step, "finished": False}
    seconds = t_spent + time.time() - t0
    model.eval()
    meta = {
        "space": space.name,
        "space_version": space.version,
        "family": cfg.family,
        "recipe": dataclasses.asdict(cfg),
        "steps": step,
        "finished": True,
        "train_seconds": round(seconds, 1),
        "commit": git_commit(),
        "torch": torch.__version__,
    }
    if out is not None:
        meta.update(export_checkpoint(model, space, meta, out))
    return meta


def train_standalone(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 256,
    seed: int = 0,
    augment: str = "flip",
    weight_decay: float = 0.05,
    progress: bool = False,
    device: str = "cpu",
) -> torch.nn.Module:
    """Train one network from scratch on labels (the reference a supernet is judged against).

    ``images``: uint8 (n x 28 x 28); ``labels``: (n,). Same optimiser, schedule and
    augmentation as the supernet recipe, without weight sharing or distillation.
    """
    torch.manual_seed(seed)
    x_all, y_all = to_tensor(images), torch.from_numpy(labels.astype(np.int64))
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = max(1, len(x_all) // batch_size)
    total = steps_per_epoch * epochs
    model.train()
    for step in tqdm(range(total), disable=not progress, desc="standalone", unit="step"):
        epoch, pos = divmod(step, steps_per_epoch)
        order = np.random.default_rng([seed, epoch]).permutation(len(x_all))
        idx = torch.from_numpy(order[pos * batch_size : (pos + 1) * batch_size])
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, total, steps_per_epoch, lr)
        opt.zero_grad(set_to_none=True)
        x = AUGMENTS[augment](x_all[idx], g).to(device)
        F.cross_entropy(model(x), y_all[idx].to(device)).backward()
        opt.step()
    return model.eval()


def export_checkpoint(model, space, meta: dict, out: str | Path) -> dict:
    """Write the weights to ``out`` and ``out`` with ``.json``: metadata, the checksum and
    the val/test accuracy of the largest and smallest subnets."""
    from cimnet_bo.supernet.evaluator import SupernetEvaluator

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"space": space.name, "space_version": space.version, "state_dict": state}, out)
    extra: dict[str, Any] = {"checkpoint": out.name, "sha256": sha256(out)}
    # metadata of earlier weights at this path would fail the evaluator's checksum check
    out.with_suffix(".json").write_text(json.dumps({**meta, **extra}, indent=2) + "\n")
    for split in ("val", "test"):
        ev = SupernetEvaluator(space.name, checkpoint=out, split=split)
        accs = ev.evaluate([space.extreme("max"), space.extreme("min")])
        extra[f"{split}_acc_largest"], extra[f"{split}_acc_smallest"] = (round(float(a), 4) for a in accs)
    out.with_suffix(".json").write_text(json.dumps({**meta, **extra}, indent=2) + "\n")
    return extra
