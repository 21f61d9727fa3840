"""Layer tables of any ``torch.nn.Module``: trace it with ``torch.fx``, propagate the shapes of an
example input, and write one row per costed node (``CIM_MODEL.md``, section *Inputs*).

Shapes are propagated on fake tensors, so no real computation runs and no weight memory is
touched: a model built on the ``meta`` device (``with torch.device("meta"): model = Net()``)
imports as well as one with real weights.

Rows, following the hand-written tables of :mod:`cimnet_bo.workload.families`:

* ``nn.Linear`` / ``F.linear`` on a parameter, and a matmul with a 2-D parameter operand:
  ``static``, M = the input vectors (the product of the leading dimensions); the bias is
  ``extra_params``.
* ``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.Conv3d``: ``static``, M = output positions (times batch),
  K = C_in / groups * prod(kernel), N = C_out / groups, count = groups,
  reuse = prod(kernel) / prod(stride); the bias is ``extra_params``.
* matmul / bmm / ``@`` / ``F.linear`` between activations: ``dynamic``, count = the batch dimensions (batch x
  heads); ``F.scaled_dot_product_attention``: ``dynamic`` QK^T, ``eltwise`` softmax (one op per
  score), ``dynamic`` AV; ``nn.MultiheadAttention``: its projections as ``static`` rows around
  those three.
* element-wise operations, activations, norms, softmax and windowed pooling: ``eltwise``, one
  op per output element; reductions (``mean``, ``sum``, adaptive pooling) one op per input
  element; a module's own parameters (norm scale and shift) are its row's ``extra_params``.
* ``nn.Embedding`` and parameters used directly (class token, position embedding): an
  ``eltwise`` row with no ops whose ``extra_params`` is the parameter's size.
* reshapes, views, permutes, concatenation, indexing, dropout, stochastic depth, assertions: no row.

Anything else is an :class:`UnsupportedOpError` naming the op and the graph node, or, with
``unknown="eltwise"``, an ``eltwise`` row (one op per output element) and one warning that
names every such op.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from typing import Any, Iterable

from cimnet_bo.core import CimnetError
from cimnet_bo.workload.table import LayerTable, TableBuilder

UNKNOWN_MODES = ("error", "eltwise")

#: Method and function names that only move or view data, or are identities at inference
#: (dropout, stochastic depth, assertions): no row.
MOVES = frozenset(
    """view reshape permute transpose contiguous flatten unflatten squeeze unsqueeze expand expand_as
    repeat cat concat concatenate stack chunk split unbind getitem size dim getattr type_as to float half
    double clone narrow select t detach dropout identity movedim swapaxes stochastic_depth drop_path
    assert""".split()
)
#: Method and function names of element-wise operations: one op per output element.
ELTWISE = frozenset(
    """add sub mul div truediv floordiv neg pow sqrt rsqrt exp log abs relu relu6 gelu silu sigmoid tanh
    hardswish hardsigmoid mish elu leaky_relu softplus clamp clip softmax log_softmax layer_norm
    batch_norm group_norm instance_norm normalize max_pool1d max_pool2d max_pool3d avg_pool1d
    avg_pool2d avg_pool3d iadd imul isub itruediv maximum minimum where masked_fill erf""".split()
)
#: Reductions: one op per input element.
REDUCTIONS = frozenset("mean sum amax amin adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d".split())
#: GEMMs between two operands.
MATMULS = frozenset("matmul bmm mm".split())
#: Functional convolutions (``F.conv2d(x, weight, bias, stride, padding, dilation, groups)``).
CONVS = frozenset("conv1d conv2d conv3d".split())


class UnsupportedOpError(CimnetError, ValueError):
    """A traced operation that the importer cannot map to a layer-table row."""


def _op_name(target: Any) -> str:
    """``operator.add`` -> ``add``, ``torch.nn.functional.gelu`` -> ``gelu``, ``"reshape"`` -> ``reshape``."""
    if isinstance(target, str):
        return target
    return getattr(target, "__name__", str(target)).strip("_")


#: ``torch.nn`` classes by the row they give (``_module_kind``); any other leaf module is unsupported.
MODULE_KINDS = {
    "linear": "Linear",
    "conv": "Conv1d Conv2d Conv3d",
    "embedding": "Embedding",
    "attention": "MultiheadAttention",
    "identity": "Dropout Dropout1d Dropout2d Identity Flatten Unflatten",
    "reduction": "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d",
    "eltwise": """ReLU ReLU6 GELU SiLU Sigmoid Tanh Hardswish Hardsigmoid Mish ELU LeakyReLU Softplus Softmax
    LogSoftmax LayerNorm GroupNorm BatchNorm1d BatchNorm2d BatchNorm3d InstanceNorm1d InstanceNorm2d MaxPool1d
    MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d""",
}


def _module_kind(module: Any) -> str:
    """The key of :data:`MODULE_KINDS` whose classes ``module`` is an instance of, else its
    qualified class name (``torch.nn.modules.rnn.GRU``)."""
    import torch.nn as nn

    for kind, names in MODULE_KINDS.items():
        if isinstance(module, tuple(getattr(nn, n) for n in names.split())):
            return kind
    return f"{type(module).__module__}.{type(module).__name__}"


def _shape(node: Any) -> tuple[int, ...] | None:
    """The output shape of a traced node, or None when it is not a single tensor."""
    meta = node.meta.get("tensor_meta") if hasattr(node, "meta") else None
    shape = getattr(meta, "shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _numel(shape: Iterable[int]) -> int:
    return int(math.prod(shape))


def _trace(model: Any, inputs: tuple) -> Any:
    """``model`` traced with ``torch.fx`` and its nodes' shapes propagated on fake tensors."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        gm = symbolic_trace(model)
    except Exception as exc:
        raise UnsupportedOpError(
            f"torch.fx cannot trace {type(model).__name__}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    tensors = list(model.parameters()) + list(model.buffers())
    device = tensors[0].device if tensors else None
    fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
    with fake_mode:
        fakes = tuple(
            torch.empty(t.shape, dtype=t.dtype, device=device or t.device) if isinstance(t, torch.Tensor) else t
            for t in inputs
        )

    class Propagate(ShapeProp):
        """ShapeProp that remembers the node it runs."""

        def run_node(self, n: Any) -> Any:
            self.current = n
            return super().run_node(n)

    prop = Propagate(gm, fake_mode=fake_mode)
    fake_log = logging.getLogger("torch._subclasses.fake_tensor")
    level = fake_log.level
    fake_log.setLevel(logging.CRITICAL)  # a failing op is reported below, not logged with its traceback
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints the traceback of a failure
            prop.propagate(*fakes)
    except Exception as exc:
        shapes = [tuple(t.shape) for t in inputs if isinstance(t, torch.Tensor)]
        root = exc
        while root.__cause__ is not None:
            root = root.__cause__
        node, reason = prop.current, (str(root).splitlines() or [""])[0]
        raise UnsupportedOpError(
            f"cannot run {type(model).__name__} on example input(s) of shape {shapes}: at node {node.name!r} "
            f"({node.op} {_op_name(node.target)}): {type(root).__name__}: {reason}"
        ) from exc
    finally:
        fake_log.setLevel(level)
    return gm


class _Importer:
    """Walks a traced graph and appends rows to a :class:`TableBuilder`."""

    def __init__(self, gm: Any, builder: TableBuilder, unknown: str) -> None:
        self.gm = gm
        self.b = builder
        self.unknown = unknown
        self.params = {name: p for name, p in gm.named_parameters()}
        self.modules = dict(gm.named_modules())
        self.folded: set[str] = set()  # parameters accounted in a GEMM row (weights, biases)
        self.seen_modules: set[str] = set()  # modules whose own parameters are counted
        self.unknown_ops: list[str] = []

    # -------------------------------------------------------------------- helpers
    def _param(self, arg: Any) -> Any:
        """The parameter a ``get_attr`` node reads, or None."""
        if getattr(arg, "op", None) == "get_attr" and arg.target in self.params:
            return self.params[arg.target]
        return None

    def _own_params(self, target: str) -> int:
        """Parameters of module ``target`` itself, counted at its first call only."""
        if target in self.seen_modules:
            return 0
        self.seen_modules.add(target)
        return sum(p.numel() for p in self.modules[target].parameters(recurse=False))

    def _gemm(self, name: str, x_shape: tuple[int, ...], K: int, N: int, bias: bool = False) -> None:
        """A weight GEMM on the last dimension of an input of shape ``x_shape``."""
        self.b.static(name, _numel(x_shape[:-1]), K, N, bias=bias)

    def _conv(
        self, name: str, out: tuple[int, ...], weight: tuple[int, ...], stride: Any, groups: int, bias: bool
    ) -> None:
        """A convolution with output shape ``out`` and weight shape ``(C_out, C_in / groups, *kernel)``
        as a grouped GEMM; ``stride`` is an int or one per spatial dimension."""
        kernel = weight[2:]
        strides = (stride,) * len(kernel) if isinstance(stride, int) else tuple(stride)
        self.b.static(
            name,
            _numel(out) // weight[0],
            _numel(weight[1:]),
            weight[0] // groups,
            count=groups,
            bias=bias,
            reuse=_numel(kernel) / _numel(strides),
        )

    def _unknown(self, node: Any, op: str) -> None:
        """An operation without a mapping: an error, or an eltwise row (one op per output element)."""
        where = f"node {node.name!r} ({node.op} {op})"
        if self.unknown == "error":
            raise UnsupportedOpError(
                f"the layer-table importer does not support {op!r} at graph {where}; "
                f"pass unknown='eltwise' to count it as an element-wise row"
            )
        shape = _shape(node)
        self.b.eltwise(node.name, _numel(shape) if shape is not None else 0)
        if op not in self.unknown_ops:
            self.unknown_ops.append(op)

    # -------------------------------------------------------------------- nodes
    def run(self) -> None:
        for node in self.gm.graph.nodes:
            if node.op in ("placeholder", "output"):
                continue
            if node.op == "get_attr":
                continue  # a row of its own at the end, unless folded into a GEMM row
            if node.op == "call_module":
                self._module(node)
            else:
                self._function(node, _op_name(node.target))
        for node in self.gm.graph.nodes:
            p = self._param(node)
            if p is not None and node.target not in self.folded:
                self.folded.add(node.target)  # each parameter once
                self.b.eltwise(node.target, 0, params=p.numel())

    def _module(self, node: Any) -> None:
        module = self.modules[node.target]
        kind = _module_kind(module)
        out = _shape(node)
        x = _shape(node.args[0]) if node.args else None
        if kind == "identity":
            return
        if kind == "linear":
            self._gemm(node.target, x, module.in_features, module.out_features, bias=module.bias is not None)
        elif kind == "conv":
            w = tuple(module.weight.shape)
            self._conv(node.target, out, w, module.stride, module.groups, module.bias is not None)
        elif kind == "attention":
            if module.bias_k is not None:
                self._unknown(node, "torch.nn.MultiheadAttention with add_bias_kv")
            else:
                self._mha(node, module)
        elif kind == "embedding":
            self.b.eltwise(node.target, 0, params=self._own_params(node.target))
        elif kind == "reduction":
            self.b.eltwise(node.target, _numel(x))
        elif kind == "eltwise":
            self.b.eltwise(node.target, _numel(out), params=self._own_params(node.target))
        else:
            self._unknown(node, kind)

    def _function(self, node: Any, op: str) -> None:
        out = _shape(node)
        if op in MOVES or (out is None and getattr(node.target, "__module__", None) in ("_operator", "builtins")):
            return  # data movement, or Python arithmetic on sizes
        if op == "linear":
            args = dict(zip(("input", "weight", "bias"), node.args))
            args.update(node.kwargs)
            N, K = _shape(args["weight"])
            x = _shape(args["input"])
            if self._use_weight(args["weight"]):
                self._gemm(node.name, x, K, N, bias=self._use_weight(args.get("bias")))
            else:  # both operands are activations
                self.b.dynamic(node.name, _numel(x[:-1]), K, N)
        elif op in CONVS:
            args = dict(zip(("input", "weight", "bias", "stride", "padding", "dilation", "groups"), node.args))
            args.update(node.kwargs)
            if not self._use_weight(args["weight"]):
                self._unknown(node, f"{op} with a weight that is not a parameter")
                return
            bias = self._use_weight(args.get("bias"))
            self._conv(node.name, out, _shape(args["weight"]), args.get("stride", 1), args.get("groups", 1), bias)
        elif op in MATMULS:
            self._matmul(node)
        elif op == "scaled_dot_product_attention":
            self._sdpa(node)
        elif op in ELTWISE:
            self.b.eltwise(node.name, _numel(out))
        elif op in REDUCTIONS:
            self.b.eltwise(node.name, _numel(_shape(node.args[0])))
        else:
            self._unknown(node, op)

    def _use_weight(self, arg: Any) -> bool:
        """Whether ``arg`` reads a parameter; if so it is accounted in the GEMM row being written
        (weights, or a bias as ``extra_params``) rather than in a row of its own."""
        if self._param(arg) is None:
            return False
        self.folded.add(arg.target)
        return True

    def _matmul(self, node: Any) -> None:
        """``a @ b``: a weight GEMM when one operand is a 2-D parameter, else a dynamic GEMM per
        batch element."""
        a, b = node.args[:2]
        sa, sb = _shape(a), _shape(b)
        M = sa[-2] if len(sa) > 1 else 1
        K = sa[-1]
        N = sb[-1] if len(sb) > 1 else 1
        if len(sb) == 2 and self._use_weight(b):  # x @ W: rows of x are the input vectors
            self._gemm(node.name, sa, K, N)
        elif len(sa) == 2 and len(sb) > 1 and self._use_weight(a):  # W @ x: columns of x are the input vectors
            self.b.static(node.name, _numel(sb) // K, K, M)
        else:
            self.b.dynamic(node.name, M, K, N, count=_numel(_shape(node)) // (M * N))

    def _attention(self, name: str, L: int, S: int, E: int, Ev: int, count: int) -> None:
        """QK^T, softmax and AV of ``count`` heads: L queries and S keys of E features, values of Ev."""
        self.b.dynamic(f"{name}.qk", L, E, S, count=count)
        self.b.eltwise(f"{name}.softmax", count * L * S)
        self.b.dynamic(f"{name}.av", L, S, Ev, count=count)

    def _sdpa(self, node: Any) -> None:
        args = dict(zip(("query", "key", "value"), node.args))
        args.update(node.kwargs)
        q, k, v = (_shape(args[n]) for n in ("query", "key", "value"))
        self._attention(node.name, q[-2], k[-2], q[-1], v[-1], _numel(q[:-2]))

    def _mha(self, node: Any, m: Any) -> None:
        """``nn.MultiheadAttention``: Q, K, V projections (one QKV GEMM when the three inputs are one
        tensor), the attention of every head, the output projection."""
        args = dict(zip(("query", "key", "value"), node.args))
        args.update({k: v for k, v in node.kwargs.items() if k in ("query", "key", "value")})
        q, k, v = (_shape(args[n]) for n in ("query", "key", "value"))
        seq = 1 if m.batch_first and len(q) == 3 else 0  # (N, L, E) or (L, N, E) or unbatched (L, E)
        L, S, E = q[seq], k[seq], m.embed_dim
        batch = _numel(q) // (L * E)
        bias = m.in_proj_bias is not None
        if args["query"] is args["key"] is args["value"] and m._qkv_same_embed_dim:
            self.b.static(f"{node.target}.in_proj", batch * L, E, 3 * E, bias=bias)
        else:
            self.b.static(f"{node.target}.q_proj", batch * L, E, E, bias=bias)
            self.b.static(f"{node.target}.k_proj", batch * S, m.kdim, E, bias=bias)
            self.b.static(f"{node.target}.v_proj", batch * S, m.vdim, E, bias=bias)
        hd = E // m.num_heads
        self._attention(node.target, L, S, hd, hd, batch * m.num_heads)
        self.b.static(f"{node.target}.out_proj", batch * L, E, E, bias=m.out_proj.bias is not None)


def from_torch(
    model: Any,
    example_input: Any,
    *,
    w_bits: int = 8,
    a_bits: int = 8,
    unknown: str = "error",
    label: str | None = None,
) -> LayerTable:
    """The layer table of a ``torch.nn.Module`` run on ``example_input``.

    Parameters
    ----------
    model : torch.nn.Module
        The network; it may live on the ``meta`` device. It must be traceable by
        ``torch.fx.symbolic_trace`` (no data-dependent control flow).
    example_input : torch.Tensor or tuple of torch.Tensor
        The forward arguments; only their shapes and dtypes are used (batch 1 gives the table of
        one inference).
    w_bits, a_bits : int
        Weight and activation precision of every row.
    unknown : {"error", "eltwise"}
        What an operation without a mapping becomes: an :class:`UnsupportedOpError`, or an
        ``eltwise`` row with one op per output element (one warning names those ops).
    label : str, optional
        The table's label; default: the model's class name.

    Returns
    -------
    LayerTable
        One row per costed node, in execution order, then one row per parameter used directly.
    """
    if unknown not in UNKNOWN_MODES:
        raise ValueError(f"unknown={unknown!r}: expected one of {list(UNKNOWN_MODES)}")
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    gm = _trace(model, inputs)
    builder = TableBuilder(label or type(model).__name__, w_bits=w_bits, a_bits=a_bits)
    importer = _Importer(gm, builder, unknown)
    importer.run()
    if importer.unknown_ops:
        warnings.warn(
            f"layer-table importer: counted unsupported op(s) {importer.unknown_ops} of "
            f"{type(model).__name__} as element-wise rows (one op per output element)",
            stacklevel=2,
        )
    if not builder.rows:
        raise UnsupportedOpError(f"{type(model).__name__} has no operation that costs anything: empty layer table")
    return builder.build()


__all__ = ["UnsupportedOpError", "from_torch"]
