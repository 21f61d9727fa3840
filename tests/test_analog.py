"""A network as the CiM chip computes it (:mod:`cimnet_bo.supernet.analog`): a lossless ADC
without cell noise gives the quantised digital network, the bit-sliced computation matches a
loop written from the module's description, accuracy does not rise as ADC bits fall, SRAM is
exact and RRAM varies as documented, and the fast mode follows the exact one."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cimnet_bo.hardware.config import default_adc_bits
from cimnet_bo.supernet.analog import ADC_RANGES, FAST_EXACT_BITS, AnalogCompute, AnalogSpec, analog_accuracy


def _q(v: torch.Tensor, bits: int, dims) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric quantisation written out: integers and scales (one per index outside dims)."""
    top = 2 ** (bits - 1) - 1
    scale = v.double().abs().amax(dim=dims, keepdim=True) / top
    return torch.clamp(torch.round(v.double() / scale), -top, top), scale


def _digital_linear(x, W, b, a_bits=8, w_bits=8):
    xq, sx = _q(x, a_bits, (1, 2))
    Wq, sw = _q(W, w_bits, (1,))
    return (xq @ Wq.T) * sx * sw.reshape(1, 1, -1) + b.double()


def _run(spec, fn, *args, mode="exact", adc="clip", seed=0, **kw):
    with AnalogCompute(spec, mode, adc, seed) as chip:
        out = fn(*args, **kw)
    return out, chip


# ============================================================================ lossless
@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize(
    "rows,rows_active,dac,cell,bpc", [(64, 64, 1, "sram", 1), (32, 8, 2, "rram", 2), (16, 16, 2, "sram", 1)]
)
def test_a_lossless_noise_free_chip_computes_the_quantised_linear_layer(mode, rows, rows_active, dac, cell, bpc):
    torch.manual_seed(0)
    x, W, b = torch.randn(3, 5, 40), torch.randn(24, 40) * 0.2, torch.randn(24)
    spec = AnalogSpec(rows, rows_active, dac, cell, bpc, adc_bits=30, sigma=0.0)
    assert spec.lossless
    y, chip = _run(spec, F.linear, x, W, b, mode=mode)
    assert chip.static_calls == 1
    ref = _digital_linear(x, W, b)
    assert torch.allclose(y.double(), ref, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(y, F.linear(x, W, b), atol=1e-4)  # quantised, not float


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_lossless_chip_computes_quantised_convolutions(mode):
    torch.manual_seed(1)
    x = torch.randn(2, 6, 9, 9)
    xq, sx = _q(x, 8, (1, 2, 3))
    spec = AnalogSpec(rows=16, rows_active=4, adc_bits=20)
    for W, kw in [
        (torch.randn(8, 6, 3, 3), dict(stride=2, padding=1)),
        (torch.randn(6, 1, 5, 5), dict(padding=2, groups=6)),  # depthwise
        (torch.randn(4, 3, 3, 3), dict(dilation=2, groups=2)),
    ]:
        Wq, sw = _q(W, 8, (1, 2, 3))
        ref = F.conv2d(xq, Wq, None, **kw) * sx * sw.reshape(1, -1, 1, 1)
        y, _ = _run(spec, F.conv2d, x, W, None, mode=mode, **kw)
        assert y.shape == ref.shape
        assert torch.allclose(y.double(), ref, rtol=1e-5, atol=1e-5), kw
    x1, W1 = torch.randn(2, 4, 12), torch.randn(5, 4, 3)
    xq, sx = _q(x1, 8, (1, 2))
    Wq, sw = _q(W1, 8, (1, 2))
    y, _ = _run(spec, F.conv1d, x1, W1, None, mode=mode, stride=2)
    assert torch.allclose(y.double(), F.conv1d(xq, Wq, stride=2) * sx * sw.reshape(1, -1, 1), atol=1e-5)


def test_the_lossless_rule_and_the_roofline_default():
    spec = AnalogSpec.from_config({"rows": 128, "cell": "rram", "bits_per_cell": 2, "dac_bits": 2})
    assert spec.rows_active == 128
    assert spec.full_scale == 128 * 3 * 3
    assert spec.lossless_adc_bits == math.ceil(math.log2(128 * 9 + 1)) == 11
    assert spec.adc_bits == int(default_adc_bits(2, 2, 128)) == 7  # NeuroSim's rule: lossy
    assert not spec.lossless
    assert AnalogSpec.from_config({"rows": 64, "cell": "sram", "bits_per_cell": 2}).bits_per_cell == 1
    assert AnalogSpec.from_config({"rows": 64}, adc_bits=4).adc_bits == 4


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(rows=8, rows_active=16), "rows_active"),
        (dict(rows=8, rows_active=8, cell="flash"), "cell"),
        (dict(rows=8, rows_active=8, adc_bits=0), "adc_bits"),
        (dict(rows=8, rows_active=8, sigma=-0.1), "sigma"),
        (dict(rows=8, rows_active=8, w_bits=1), "w_bits"),
    ],
)
def test_a_bad_chip_is_refused_by_name(kw, match):
    with pytest.raises(ValueError, match=match):
        AnalogSpec(**kw)


def test_a_bad_mode_or_range_rule_is_refused_by_name():
    spec = AnalogSpec(8, 8)
    with pytest.raises(ValueError, match="mode 'approximate'"):
        AnalogCompute(spec, "approximate")
    with pytest.raises(Exception, match="ADC range rule"):
        AnalogCompute(spec, "exact", "log")


# ============================================================================ the bit-sliced sum
def _loop_reference(x, W, spec: AnalogSpec, rule: str) -> np.ndarray:
    """The module docstring's steps 1-5 as plain loops (no cell noise)."""
    xq, sx = _q(x, spec.a_bits, (1,))
    Wq, sw = _q(W, spec.w_bits, (1,))
    o_a, o_w = 2 ** (spec.a_bits - 1), 2 ** (spec.w_bits - 1)
    xu, Wu = (xq + o_a).long().numpy(), (Wq + o_w).long().numpy()
    M, K = xu.shape
    N = Wu.shape[0]
    levels = 2**spec.adc_bits - 1
    lossless = math.ceil(math.log2(spec.full_scale + 1))
    step = 2 ** max(0, lossless - spec.adc_bits)
    groups = []  # row groups: arrays of `rows` rows, `rows_active` at a time
    for start in range(0, K, spec.rows):
        for g in range(start, min(start + spec.rows, K), spec.rows_active):
            groups.append(range(g, min(g + spec.rows_active, start + spec.rows, K)))
    out = np.zeros((M, N))
    for m, n in itertools.product(range(M), range(N)):
        A = 0.0
        for i, c in itertools.product(range(spec.n_in), range(spec.n_cw)):
            xi = (xu[m] >> (spec.dac_bits * i)) & (2**spec.dac_bits - 1)
            wc = (Wu[n] >> (spec.bits_per_cell * c)) & (2**spec.bits_per_cell - 1)
            for g in groups:
                P = int(sum(xi[k] * wc[k] for k in g))
                if rule == "clip":
                    P = min(P, levels)
                elif rule == "centred":  # a window of 2^B levels around the expected sum
                    center = (2**spec.dac_bits - 1) / 2 * sum(wc[k] for k in g)
                    low = min(max(round(center - 2 ** (spec.adc_bits - 1)), 0), max(0, spec.full_scale - levels))
                    P = min(max(P, low), low + levels)
                else:
                    P = min(round(P / step), levels) * step  # Python rounds half to even too
                A += 2 ** (spec.dac_bits * i + spec.bits_per_cell * c) * P
        q = A - o_a * Wu[n].sum() - o_w * xu[m].sum() + K * o_a * o_w
        out[m, n] = q * float(sx[m]) * float(sw[n])
    return out


@pytest.mark.parametrize("rule", ["clip", "full", "centred"])
@pytest.mark.parametrize("rows,ra,dac,bpc,bits", [(8, 4, 1, 1, 2), (8, 8, 2, 2, 4), (6, 4, 1, 2, 3)])
def test_the_exact_mode_is_the_bit_sliced_sum_of_the_description(rule, rows, ra, dac, bpc, bits):
    torch.manual_seed(2)
    x, W = torch.randn(3, 13), torch.randn(4, 13)
    spec = AnalogSpec(rows, ra, dac, "rram" if bpc > 1 else "sram", bpc, adc_bits=bits, sigma=0.0)
    assert not spec.lossless
    y, _ = _run(spec, F.linear, x, W, None, adc=rule)
    ref = _loop_reference(x, W, spec, rule)
    assert np.allclose(y.double().numpy(), ref, rtol=1e-5, atol=1e-6)
    digital = _loop_reference(x, W, AnalogSpec(rows, ra, dac, spec.cell, bpc, adc_bits=20, sigma=0.0), rule)
    assert not np.allclose(ref, digital, atol=1e-3)  # the ADC lost something


def test_each_adc_bit_fewer_never_shrinks_the_error_of_a_layer():
    torch.manual_seed(3)
    x, W, b = torch.randn(4, 10, 96), torch.randn(32, 96) * 0.1, torch.zeros(32)
    ref = _digital_linear(x, W, b)
    for rule in ("clip", "full", "centred"):
        errors = []
        for bits in range(7, 1, -1):
            y, _ = _run(AnalogSpec(64, 64, adc_bits=bits), F.linear, x, W, b, adc=rule)
            errors.append(float((y.double() - ref).pow(2).mean()))
        assert errors[0] < 1e-12  # 7 bits: lossless for 64 rows (float32 output)
        assert all(later >= earlier for earlier, later in zip(errors, errors[1:])), (rule, errors)
        assert errors[-1] > 0


# ============================================================================ cells
def test_sram_is_exact_and_rram_varies_per_cell_as_documented():
    torch.manual_seed(4)
    x, W, b = torch.randn(2, 8, 64), torch.randn(48, 64) * 0.1, torch.zeros(48)
    lossless = dict(rows=64, rows_active=64, adc_bits=12)
    sram, _ = _run(AnalogSpec(**lossless, cell="sram", sigma=0.2), F.linear, x, W, b, mode="fast")
    quiet, _ = _run(AnalogSpec(**lossless, cell="rram", sigma=0.0), F.linear, x, W, b, mode="fast")
    assert torch.equal(sram, quiet)  # sigma is a property of RRAM cells only
    noisy = {}
    for seed in (0, 1):
        noisy[seed], chip = _run(AnalogSpec(**lossless, cell="rram"), F.linear, x, W, b, mode="fast", seed=seed)
    again, _ = _run(AnalogSpec(**lossless, cell="rram"), F.linear, x, W, b, mode="fast", seed=0)
    assert torch.equal(noisy[0], again) and not torch.equal(noisy[0], noisy[1])
    # one draw per cell: effective weight minus programmed weight has the std of
    # sigma * sqrt(sum over the weight's cells of (shift * level)^2)
    spec = AnalogSpec(**lossless, cell="rram", bits_per_cell=2, sigma=0.05)
    layer = AnalogCompute(spec, "fast")._layer(W, 1)
    Wq, _ = _q(W, 8, (1,))
    Wu = (Wq + 128).T.long()
    spread = torch.zeros_like(Wu, dtype=torch.float64)
    for c in range(spec.n_cw):
        spread += (4**c * ((Wu >> (2 * c)) & 3)).double() ** 2
    z = (layer.effective[0] - Wu.double()) / spread.sqrt()
    assert abs(float(z.std()) - 0.05) < 0.003
    assert abs(float(z.mean())) < 0.003


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_the_adc_rounds_small_cell_variation_away_and_large_variation_grows_with_sigma(mode):
    torch.manual_seed(5)
    x, W, b = torch.randn(4, 16, 128), torch.randn(64, 128) * 0.1, torch.zeros(64)
    ref = _digital_linear(x, W, b)
    rms = []
    for sigma in (0.01, 0.04, 0.08, 0.16):
        spec = AnalogSpec(128, 128, adc_bits=12, cell="rram", sigma=sigma)  # a lossless ADC
        y, _ = _run(spec, F.linear, x, W, b, mode=mode)
        rms.append(float((y.double() - ref).pow(2).mean().sqrt()))
    # a 1-bit cell sum over 128 rows varies by ~0.01 * sqrt(32) of a level: always rounded away
    assert rms[0] < 1e-6
    assert rms[0] < rms[1] < rms[2] < rms[3]
    assert rms[3] / rms[2] == pytest.approx(2.0, rel=0.15)  # variation well above half a level


# ============================================================================ fast against exact
def test_the_fast_full_rule_has_the_exact_rounding_variance():
    torch.manual_seed(6)
    x, W, b = torch.randn(8, 32, 128), torch.randn(64, 128) * 0.1, torch.zeros(64)
    ref = _digital_linear(x, W, b)
    for bits in (6, 5):
        spec = AnalogSpec(64, 64, adc_bits=bits)
        exact, _ = _run(spec, F.linear, x, W, b, adc="full")
        fast, _ = _run(spec, F.linear, x, W, b, mode="fast", adc="full")
        e_exact = float((exact.double() - ref).pow(2).mean())
        e_fast = float((fast.double() - ref).pow(2).mean())
        assert e_fast == pytest.approx(e_exact, rel=0.25), bits


@pytest.mark.parametrize("rule,bits", [("clip", 4), ("centred", 4), ("centred", 3)])
def test_the_fast_saturating_rules_keep_the_significant_conversions_exact(rule, bits):
    torch.manual_seed(7)
    x, W, b = torch.randn(4, 16, 64), torch.randn(32, 64) * 0.1, torch.zeros(32)
    ref = _digital_linear(x, W, b)
    spec = AnalogSpec(64, 64, adc_bits=bits)
    exact, _ = _run(spec, F.linear, x, W, b, adc=rule)
    fast, _ = _run(spec, F.linear, x, W, b, mode="fast", adc=rule)
    assert not torch.equal(exact, fast)  # the conversions left out are not all exact
    err_exact = (exact.double() - ref).pow(2).mean()
    # the conversions left out carry at most 2^-FAST_EXACT_BITS of the error's scale each
    assert float((fast.double() - exact.double()).pow(2).mean()) < 0.01 * float(err_exact)
    assert FAST_EXACT_BITS >= 4
    assert set(ADC_RANGES.names()) >= {"clip", "full", "centred"}


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_centred_window_loses_less_than_one_at_zero(mode):
    # offset-binary operands make about half of each bit plane ones: 64-row sums sit near 16,
    # at the top of a 4- or 5-bit window starting at zero, in the middle of a centred one
    torch.manual_seed(9)
    x, W, b = torch.randn(4, 16, 64), torch.randn(32, 64) * 0.1, torch.zeros(32)
    ref = _digital_linear(x, W, b)
    for bits in (5, 4):
        spec = AnalogSpec(64, 64, adc_bits=bits)
        clip, _ = _run(spec, F.linear, x, W, b, mode=mode, adc="clip")
        centred, _ = _run(spec, F.linear, x, W, b, mode=mode, adc="centred")
        e_clip = float((clip.double() - ref).pow(2).mean())
        e_centred = float((centred.double() - ref).pow(2).mean())
        assert e_centred < 0.1 * e_clip, (bits, e_centred, e_clip)


def test_the_centred_window_stays_within_the_range_of_the_sums():
    rule = ADC_RANGES["centred"]()
    P = torch.arange(0.0, 64.0).reshape(1, 64, 1).expand(1, 64, 3)
    center = torch.tensor([[[0.0, 30.0, 63.0]]])
    out = rule.convert(P.clone(), 4, 63, center)
    assert torch.equal(out[0, :, 0], P[0, :, 0].clamp(0, 15))  # a window at the bottom
    assert torch.equal(out[0, :, 1], P[0, :, 1].clamp(22, 37))  # 30 - 8 .. 30 + 7
    assert torch.equal(out[0, :, 2], P[0, :, 2].clamp(48, 63))  # a window at the top
    assert torch.equal(rule.convert(P.clone(), 6, 63, center), P)  # 64 levels: lossless
    with pytest.raises(KeyError, match="centred"):
        ADC_RANGES["centered"]


# ============================================================================ a trained subnet
@pytest.fixture(scope="module")
def vit():
    from cimnet_bo.space import get_space, subnet_side
    from cimnet_bo.supernet.data import load_split, to_tensor
    from cimnet_bo.supernet.evaluator import load_supernet

    sub = subnet_side(get_space("vit-fmnist"))
    net, _ = load_supernet(sub)
    images, labels = load_split("val")
    return sub, net, to_tensor(images[:300]), labels[:300]


def test_every_static_layer_of_a_subnet_runs_on_the_chip(vit):
    from cimnet_bo.workload import layer_table

    sub, net, images, _ = vit
    cfg = sub.extreme("min")
    with AnalogCompute(AnalogSpec(64, 64, adc_bits=12)) as chip:
        net.get_subnet(cfg)(images[:4])
    table = layer_table(sub, cfg)
    assert chip.static_calls == int((np.asarray(table.kind) == "static").sum())


def test_subnet_accuracy_equals_the_quantised_digital_accuracy_at_lossless_bits(vit):
    from cimnet_bo.supernet.evaluator import accuracy_of

    sub, net, images, labels = vit
    cfg = {**sub.extreme("min"), "rows": 64, "cell": "sram", "dac_bits": 1}
    # the digital network with quantised static layers, written out
    sliced = net.get_subnet(cfg)
    with torch.no_grad():
        for m in sliced.modules():
            if isinstance(m, torch.nn.Linear):
                Wq, sw = _q(m.weight, 8, (1,))
                m.weight.copy_((Wq * sw).float())

    class QuantisedInputs(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is F.linear:
                x = args[0]
                dims = tuple(range(1, x.dim()))
                xq, sx = _q(x, 8, dims)
                return func((xq * sx).float(), *args[1:], **kwargs)
            return func(*args, **kwargs)

    with torch.no_grad(), QuantisedInputs():
        logits = sliced(images)
    digital = float((logits.argmax(1).numpy() == labels).mean())
    for mode in ("exact", "fast"):
        assert analog_accuracy(net, cfg, images, labels, mode=mode, adc_bits=7) == pytest.approx(digital, abs=1 / 300)
    assert abs(digital - accuracy_of(net, cfg, images, labels)) < 0.03  # 8 bits lose little


def test_subnet_accuracy_does_not_rise_as_adc_bits_fall(vit):
    sub, net, images, labels = vit
    cfg = {**sub.extreme("min"), "rows": 64, "cell": "rram", "bits_per_cell": 1, "dac_bits": 1}
    acc = [
        np.mean([analog_accuracy(net, cfg, images, labels, seed=s, adc_bits=bits, sigma=0.01) for s in range(2)])
        for bits in (7, 6, 5, 4)
    ]
    assert all(later <= earlier + 1 / 300 for earlier, later in zip(acc, acc[1:])), acc
    assert acc[-1] < acc[0] - 0.2  # 4 bits for 64 rows: far below


# ============================================================================ the evaluator
def test_the_chip_evaluator_caches_by_subnet_and_accuracy_knobs_only():
    from cimnet_bo.space import get_space
    from cimnet_bo.supernet.evaluator import ChipAccuracyEvaluator, SupernetEvaluator

    space = get_space("vit-fmnist")
    ev = ChipAccuracyEvaluator(space, indices=range(200))
    base = {**space.subnet.extreme("min"), **space.hardware.baseline}
    bigger = {**base, "n_macros": 4096, "glb_kb": 512, "clock_mhz": 1000}  # time and area only
    lossless = {**base, "adc_bits": 7}  # 64 rows, 1-bit inputs and cells
    acc = ev.evaluate([base, bigger, lossless])
    assert acc[0] == acc[1]
    assert len(ev._cache) == 2
    plain = SupernetEvaluator(space, indices=range(200))
    digital = plain.evaluate([base])[0]
    assert abs(acc[2] - digital) <= 0.03  # 8-bit quantisation loses little
    assert acc[0] < acc[2] - 0.2  # the roofline's default 4-bit ADC saturates (see the README)
    assert "analog-v1:fast:centred" in ev.identity
    assert ev.identity.startswith(plain.identity + "|")  # the checkpoint, then the chip model
    with pytest.raises(ValueError, match="'rows'"):
        ev.evaluate([space.subnet.extreme("min")])
    with pytest.raises(ValueError, match="mode 'slow'"):
        ChipAccuracyEvaluator(space, mode="slow")


# ============================================================================ review cases
def test_weights_made_on_the_fly_are_never_mistaken_for_one_another():
    torch.manual_seed(8)
    base, x = torch.randn(12, 32, 16), torch.randn(3, 16)
    idx = torch.randperm(32)[:24]
    spec = AnalogSpec(16, 16, adc_bits=4)
    alone = [_run(spec, F.linear, x, base[j][idx])[0] for j in range(12)]
    with AnalogCompute(spec, "exact") as chip:
        together = [F.linear(x, base[j][idx]) for j in range(12)]  # fresh copies, freed at once
    assert len(chip._layers) == 12
    assert all(torch.equal(a, b) for a, b in zip(alone, together))
    W = torch.randn(16, 16)
    with AnalogCompute(spec, "exact"):
        y, y_t = F.linear(x, W), F.linear(x, W.t())  # one storage, two layouts
    assert torch.equal(y, _run(spec, F.linear, x, W)[0])
    assert torch.equal(y_t, _run(spec, F.linear, x, W.t().contiguous())[0])


def test_the_fast_full_rule_counts_only_row_groups_that_hold_rows():
    torch.manual_seed(9)
    x, W, b = torch.randn(8, 32, 32), torch.randn(64, 32) * 0.1, torch.zeros(64)
    ref = _digital_linear(x, W, b)
    spec = AnalogSpec(128, 64, adc_bits=5)  # K = 32: one group of 64 rows, half empty
    exact, _ = _run(spec, F.linear, x, W, b, adc="full")
    fast, _ = _run(spec, F.linear, x, W, b, mode="fast", adc="full")
    e_exact = float((exact.double() - ref).pow(2).mean())
    assert float((fast.double() - ref).pow(2).mean()) == pytest.approx(e_exact, rel=0.25)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_lossy_convolution_is_the_lossy_linear_layer_of_its_patches(mode):
    torch.manual_seed(10)
    x, W = torch.randn(2, 4, 9, 9), torch.randn(6, 4, 3, 3)
    spec = AnalogSpec(16, 8, adc_bits=3)
    y, _ = _run(spec, F.conv2d, x, W, None, mode=mode, stride=2, padding=1)
    patches = F.unfold(x, 3, padding=1, stride=2).transpose(1, 2)  # (B x L x K): every pixel in a patch
    lin, _ = _run(spec, F.linear, patches, W.reshape(6, -1), None, mode=mode)
    assert torch.allclose(y.flatten(2).transpose(1, 2), lin, rtol=1e-5, atol=1e-5)
    clean, _ = _run(AnalogSpec(16, 8, adc_bits=12), F.conv2d, x, W, None, stride=2, padding=1)
    assert not torch.allclose(y, clean, atol=1e-3)


def test_exact_mode_gives_the_same_numbers_in_any_chunk_size():
    torch.manual_seed(11)
    x, W = torch.randn(2, 8, 10, 10), torch.randn(8, 1, 3, 3)
    spec = AnalogSpec(64, 4, adc_bits=2, cell="rram", sigma=0.05)
    kw = dict(padding=1, groups=8)
    with AnalogCompute(spec, "exact", chunk_elements=2**10):
        small = F.conv2d(x, W, None, **kw)
    with AnalogCompute(spec, "exact", chunk_elements=2**26):
        large = F.conv2d(x, W, None, **kw)
    assert torch.equal(small, large)
