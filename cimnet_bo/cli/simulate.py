"""``cimnet-bo simulate``: one subnet (or any torch model) on one CiM chip, per-layer table and totals.

Examples::

    cimnet-bo simulate --space vit-b-imagenet --subnet max --hardware baseline
    cimnet-bo simulate --space vit-fmnist --subnet min --hardware '{"n_macros": 512}' --json
    cimnet-bo simulate --space vit-b-imagenet --subnet max --plot roofline.png
    cimnet-bo simulate --space vit-b-imagenet --model mypkg.nets:make_net --input-shape 1,3,224,224

``--subnet`` is ``max``, ``min``, ``baseline`` or a JSON object (or a path to a JSON file)
with the complete subnet configuration. ``--model MODULE:FACTORY`` replaces the space's network
with any ``torch.nn.Module``: the factory is called without arguments on the ``meta`` device (no
weight memory; on the default device if that fails) and the module traced on an input of ``--input-shape``
(:func:`cimnet_bo.search.network.load_model_table`); the space then gives only the chip.
``--hardware`` is ``baseline`` or a JSON object (or file) of knobs, applied over the space's
baseline chip (so ``'{"cell": "rram"}'`` changes one knob; model knobs outside the space, such
as ``adc_bits`` or ``rows_active``, are allowed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cimnet_bo.cli.args import NATURAL, add_space_option, counts


def add_simulate(p: argparse.ArgumentParser) -> None:
    """The options of the ``simulate`` sub-command."""
    p.description = __doc__
    add_space_option(p)
    p.add_argument("--subnet", default=None, help="max (default) | min | baseline | JSON object or file")
    p.add_argument("--model", default=None, metavar="MODULE:FACTORY", help="a torch.nn.Module factory (no arguments)")
    p.add_argument("--input-shape", type=counts, default=None, help="input shape for --model, e.g. 1,3,224,224")
    p.add_argument(
        "--unknown-ops",
        choices=("error", "eltwise"),
        default="error",
        help="operations of --model without a mapping: an error, or element-wise rows (with a warning)",
    )
    p.add_argument("--hardware", default="baseline", help="baseline | JSON object or file (over the baseline)")
    p.add_argument("--tech", default=None, help="YAML file of technology constant overrides")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", default=None, metavar="FILE", help="save a roofline plot (PNG)")
    p.add_argument("--top", type=NATURAL, default=0, help="print only the N slowest layers (0: all)")
    p.set_defaults(func=run)


#: The words ``--subnet`` and ``--hardware`` take besides a JSON object or file.
KEYWORDS = {"subnet": ("max", "min", "baseline"), "hardware": ("baseline",)}


def _json_arg(text: str, what: str) -> dict:
    """The JSON object ``text`` holds, or the file it names holds (``what``: ``"subnet"`` or
    ``"hardware"``, the option)."""
    from cimnet_bo.core import read_text

    if text.lstrip().startswith(("{", "[")):
        source = f"--{what} {text!r}"
    elif Path(text).exists():
        source = f"--{what} file {text}"
        text = read_text(text, f"--{what} file")
    else:
        words = ", ".join(KEYWORDS[what])
        raise ValueError(f"--{what} {text!r} is neither {words}, a JSON object nor an existing file")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source} is not a JSON object: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value


def _check_plot_path(path: str) -> None:
    """Raise ``ValueError`` unless ``path`` can take a plot: an image format matplotlib writes,
    not a folder, no file in the way of its folder."""
    from matplotlib.backend_bases import FigureCanvasBase

    from cimnet_bo.core import check_output_path

    p = check_output_path(path, "--plot")
    kinds = FigureCanvasBase.get_supported_filetypes()
    if p.suffix.lower().lstrip(".") not in kinds:
        raise ValueError(f"--plot {p}: {p.suffix!r} is not an image format matplotlib writes: {sorted(kinds)}")


def resolve(space_name: str, subnet: str, hardware: str):
    """(joint space, subnet config, hardware config dict) from the CLI arguments."""
    from cimnet_bo.space import JointSpace, get_space

    space = get_space(space_name)
    if not isinstance(space, JointSpace):
        raise ValueError(f"space {space_name!r} is not a joint (subnet x hardware) space")
    if subnet in ("max", "min"):
        sub = space.subnet.extreme(subnet)
    elif subnet == "baseline":
        sub = space.subnet.baseline if space.subnet.baseline is not None else space.subnet.extreme("max")
    else:
        sub = space.subnet.validate(_json_arg(subnet, "subnet"))
    base = dict(space.hardware.baseline or {})
    hw = base if hardware == "baseline" else {**base, **_json_arg(hardware, "hardware")}
    return space, sub, hw


def _format(res) -> str:
    import pandas as pd

    df = res.layers
    show = pd.DataFrame(
        {
            "layer": df["name"],
            "kind": df["kind"],
            "t_comp_us": df["t_comp"] * 1e6,
            "t_buf_us": df["t_buf"] * 1e6,
            "t_spill_us": df["t_spill"] * 1e6,
            "t_w_us": df["t_w"] * 1e6,
            "t_layer_us": df["t_layer"] * 1e6,
            "bound": df["bound"],
            "glb_KB": df["glb_bytes"] / 1024,
            "dram_KB": df["dram_bytes"] / 1024,
            "energy_uJ": df["e_total"] * 1e6,
        }
    )
    return show.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def run(args: argparse.Namespace) -> int:
    """Simulate; print the per-layer table and the totals (or JSON)."""
    from cimnet_bo.hardware import HardwareConfig, Technology, plot_roofline, simulate, space_technology
    from cimnet_bo.workload import layer_table

    if args.plot:
        _check_plot_path(args.plot)
    if args.model is None and args.input_shape is not None:
        raise ValueError("--input-shape applies only with --model")
    if args.model is not None and args.subnet is not None:
        raise ValueError(f"--subnet {args.subnet!r} and --model {args.model!r} both name the network; give one")
    space, sub, hw = resolve(args.space, args.subnet or "max", args.hardware)
    tech = space_technology(space, Technology.from_yaml(args.tech) if args.tech else None)
    config = HardwareConfig.from_dict(hw)
    if args.model is not None:
        from cimnet_bo.search.network import load_model_table

        if args.input_shape is None:
            raise ValueError(f"--model {args.model!r} needs --input-shape (e.g. 1,3,224,224)")
        table = load_model_table(args.model, args.input_shape, args.unknown_ops)
        network = {"model": args.model, "input_shape": args.input_shape}
    else:
        table = layer_table(space, sub)
        network = {"subnet": sub}
    res = simulate(table, config, tech)
    if args.plot:
        plot_roofline(table, config, args.plot, tech, result=res)
    if args.json:
        out = {"space": space.name, **network, **res.to_dict()}
        print(json.dumps(out, indent=1, default=str))
        return 0
    top = args.top
    if top > 0:
        import copy

        res_top = copy.copy(res)
        res_top._frame = res.layers.sort_values("t_layer", ascending=False).head(top)
        print(_format(res_top))
    else:
        print(_format(res))
    print()
    mode = (
        f"resident (replication {res.replication}, programming {res.program_time_s * 1e6:.4g} us once)"
        if res.resident
        else f"streaming {res.stream_fraction:.0%} of the weights (written every inference)"
    )
    df = res.layers
    share = df.groupby("bound")["t_layer"].sum() / res.latency_s
    if args.model is not None:
        print(f"model      {args.model} on input {args.input_shape}")
    print(f"space      {space.name}  ({len(df)} layers, {res.arrays_needed} arrays needed, {config.n_macros} on chip)")
    print(
        f"latency    {res.latency_s * 1e6:.6g} us   ({res.tops:.4g} TOPS effective, "
        f"peak {res.peak_ops_per_s / 1e12:.4g} TOPS)"
    )
    print(f"energy     {res.energy_j * 1e3:.6g} mJ")
    print(f"area       {res.area_mm2:.6g} mm^2   (adc_bits {res.adc_bits})")
    print(f"power      {res.power_w:.4g} W peak, {res.avg_power_w:.4g} W average (energy / latency)")
    print(f"mode       {mode}")
    if not res.feasible:
        print(f"feasible   no: an RRAM chip cannot stream weights ({res.stream_fraction:.0%} do not fit)")
    print("time by bound  " + ", ".join(f"{k} {v:.1%}" for k, v in share.sort_values(ascending=False).items()))
    if args.plot:
        print(f"roofline   {args.plot}")
    return 0
