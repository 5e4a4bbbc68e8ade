"""Learning-rate schedulers against torch.optim.lr_scheduler, step by step."""

import copy
import math
import warnings

import pytest
import torch

import ember


def make_opt(lib, name="SGD", **kw):
    ps = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(3))]
    groups = [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}]
    if name == "SGD":
        kw.setdefault("momentum", 0.9)
    return getattr(lib.optim, name)(groups, lr=kw.pop("lr", 0.1), **kw)


class Scale:
    """A callable object (its ``__dict__`` is saved in the state dict)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


def lam(epoch):
    return 1.0 / (1 + epoch)


def mult(epoch):
    return 0.97


# (scheduler name, kwargs, optimizer name)
CONFIGS = [
    ("StepLR", dict(step_size=7), "SGD"),
    ("StepLR", dict(step_size=3, gamma=0.5), "SGD"),
    ("MultiStepLR", dict(milestones=[10, 30, 30, 60], gamma=0.3), "SGD"),
    ("ExponentialLR", dict(gamma=0.95), "SGD"),
    ("CosineAnnealingLR", dict(T_max=20), "SGD"),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=0.001), "SGD"),
    ("CosineAnnealingWarmRestarts", dict(T_0=10), "SGD"),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.01), "SGD"),
    ("LambdaLR", dict(lr_lambda=lam), "SGD"),
    ("LambdaLR", dict(lr_lambda=[lam, Scale(0.98)]), "SGD"),
    ("MultiplicativeLR", dict(lr_lambda=mult), "SGD"),
    ("LinearLR", dict(), "SGD"),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.8, total_iters=40), "SGD"),
    ("ConstantLR", dict(), "SGD"),
    ("ConstantLR", dict(factor=0.25, total_iters=50), "SGD"),
    ("PolynomialLR", dict(), "SGD"),
    ("PolynomialLR", dict(total_iters=60, power=2.0), "SGD"),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=100), "SGD"),
    ("OneCycleLR", dict(max_lr=0.3, epochs=10, steps_per_epoch=10, anneal_strategy="linear",
                        pct_start=0.25), "Adam"),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=100, three_phase=True, div_factor=10.0,
                        final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9), "SGD"),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=100, cycle_momentum=False), "Adagrad"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=7), "SGD"),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=5, step_size_down=9,
                      mode="triangular2"), "SGD"),
    ("CyclicLR", dict(base_lr=0.001, max_lr=0.1, step_size_up=6, mode="exp_range",
                      gamma=0.99), "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=Scale(0.9),
                      scale_mode="iterations", cycle_momentum=False), "Adagrad"),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CONFIGS)]


def both(name, kwargs, opt_name):
    to, eo = make_opt(torch, opt_name), make_opt(ember, opt_name)
    ts = getattr(torch.optim.lr_scheduler, name)(to, **copy.deepcopy(kwargs))
    es = getattr(ember.optim.lr_scheduler, name)(eo, **copy.deepcopy(kwargs))
    return to, eo, ts, es


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def assert_same(to, eo, ts, es):
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=1e-15)
    assert [g["lr"] for g in eo.param_groups] == \
        pytest.approx([g["lr"] for g in to.param_groups], rel=1e-12, abs=1e-15)
    em, tm = momenta(eo), momenta(to)
    assert [m is None for m in em] == [m is None for m in tm]
    assert [m for m in em if m is not None] == \
        pytest.approx([m for m in tm if m is not None], rel=1e-12)
    assert es.last_epoch == ts.last_epoch


def advance(to, eo, ts, es, n):
    for _ in range(n):
        to.step()
        eo.step()
        ts.step()
        es.step()
        assert_same(to, eo, ts, es)


@pytest.mark.parametrize("name,kwargs,opt_name", CONFIGS, ids=IDS)
def test_matches_torch_for_100_steps(name, kwargs, opt_name):
    to, eo, ts, es = both(name, kwargs, opt_name)
    assert_same(to, eo, ts, es)
    assert es.base_lrs == pytest.approx(ts.base_lrs, rel=1e-15)
    assert [g.get("initial_lr") for g in eo.param_groups] == \
        [g.get("initial_lr") for g in to.param_groups]
    advance(to, eo, ts, es, 100)


def plain(sd):
    """A scheduler state dict without callables (those differ between the libraries)."""
    return {k: v for k, v in sd.items() if not callable(v)}


@pytest.mark.parametrize("name,kwargs,opt_name", CONFIGS, ids=IDS)
def test_state_dict_round_trip(name, kwargs, opt_name):
    to, eo, ts, es = both(name, kwargs, opt_name)
    advance(to, eo, ts, es, 40)
    assert list(es.state_dict()) == list(ts.state_dict())
    tsd, esd = plain(ts.state_dict()), plain(es.state_dict())
    for key in ("last_epoch", "_step_count", "_is_initial", "_get_lr_called_within_step"):
        assert esd[key] == tsd[key]
    assert esd["base_lrs"] == pytest.approx(tsd["base_lrs"], rel=1e-15)
    saved_opt = copy.deepcopy(eo.state_dict())
    saved = copy.deepcopy(es.state_dict())
    # a fresh optimizer and scheduler, restored from the checkpoint
    eo2 = make_opt(ember, opt_name)
    kw = copy.deepcopy(kwargs)
    es2 = getattr(ember.optim.lr_scheduler, name)(eo2, **kw)
    eo2.load_state_dict(saved_opt)
    es2.load_state_dict(saved)
    assert es2.get_last_lr() == es.get_last_lr()
    advance(to, eo2, ts, es2, 60 if name != "OneCycleLR" else 59)


def test_state_dict_saves_callable_objects_only():
    eo = make_opt(ember)
    es = ember.optim.lr_scheduler.LambdaLR(eo, [lam, Scale(0.5)])
    sd = es.state_dict()
    assert sd["lr_lambdas"] == [None, {"rate": 0.5}]
    es.lr_lambdas[1].rate = 0.1
    es.load_state_dict(sd)
    assert es.lr_lambdas[1].rate == 0.5


def test_step_with_epoch_uses_closed_form_and_warns():
    for name, kw in [("StepLR", dict(step_size=3)), ("CosineAnnealingLR", dict(T_max=10)),
                     ("ExponentialLR", dict(gamma=0.9)), ("PolynomialLR", dict(total_iters=8))]:
        to, eo, ts, es = both(name, kw, "SGD")
        to.step()
        eo.step()
        for epoch in (5, 2, 7):
            with pytest.warns(UserWarning, match="The epoch parameter"):
                es.step(epoch)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ts.step(epoch)
            assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)


def test_warm_restarts_fractional_epochs():
    to, eo, ts, es = both("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2), "SGD")
    for epoch in [0.5, 1.25, 3.9, 4.0, 7.5, 12.1, 30.0]:
        ts.step(epoch)
        es.step(epoch)
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        assert es.T_i == ts.T_i and es.T_cur == pytest.approx(ts.T_cur)


# -- composition ------------------------------------------------------------------------------
def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    warm = s.LinearLR(opt, start_factor=0.1, total_iters=5)
    cos = s.CosineAnnealingLR(opt, T_max=30)
    step = s.StepLR(opt, step_size=10, gamma=0.5)
    return s.SequentialLR(opt, [warm, cos, step], milestones=[5, 40])


def _chained(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=8),
                               s.ExponentialLR(opt, gamma=0.97),
                               s.MultiStepLR(opt, milestones=[20, 50])])


def _nested(lib, opt):
    s = lib.optim.lr_scheduler
    inner = s.ChainedScheduler([s.LinearLR(opt, start_factor=0.5, total_iters=4),
                                s.ExponentialLR(opt, gamma=0.9)])
    return s.SequentialLR(opt, [inner, s.CosineAnnealingLR(opt, T_max=20)], milestones=[15])


@pytest.mark.filterwarnings("ignore:Detected call of")  # the nested chain warns in torch too
@pytest.mark.parametrize("build", [_sequential, _chained, _nested])
def test_compositions(build):
    to, eo = make_opt(torch), make_opt(ember)
    ts, es = build(torch, to), build(ember, eo)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    for i in range(100):
        to.step()
        eo.step()
        ts.step()
        es.step()
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        assert [g["lr"] for g in eo.param_groups] == \
            pytest.approx([g["lr"] for g in to.param_groups], rel=1e-12)
        if i == 50:
            sd = es.state_dict()
            assert list(sd) == list(ts.state_dict())
            assert len(sd["_schedulers"]) == len(ts.state_dict()["_schedulers"])
            es.load_state_dict(copy.deepcopy(sd))


def test_composition_errors():
    for lib in (torch, ember):
        s = lib.optim.lr_scheduler
        opt, other = make_opt(lib), make_opt(lib)
        with pytest.raises(ValueError, match="expects at least one scheduler"):
            s.SequentialLR(opt, [], milestones=[])
        with pytest.raises(ValueError, match="one more than the number of milestone"):
            s.SequentialLR(opt, [s.StepLR(opt, 2), s.StepLR(opt, 3)], milestones=[])
        with pytest.raises(ValueError, match="belong to the same optimizer"):
            s.ChainedScheduler([s.StepLR(opt, 2), s.StepLR(other, 3)])
        with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
            s.ChainedScheduler([s.ReduceLROnPlateau(opt)])


# -- ReduceLROnPlateau ------------------------------------------------------------------------
METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.89999, 0.92, 0.93, 0.5, 0.5, 0.5, 0.5, 0.6, 0.7,
           0.8, 0.49, 0.49, 0.49, 0.49, 0.49, 0.49, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]


@pytest.mark.parametrize("kwargs", [
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=2),
    dict(mode="max", patience=1, threshold=0.01),
    dict(threshold_mode="abs", threshold=0.05, patience=0, min_lr=[0.02, 0.001]),
    dict(mode="max", threshold_mode="abs", patience=1, min_lr=0.04, eps=1e-3),
])
def test_reduce_on_plateau(kwargs):
    to, eo = make_opt(torch), make_opt(ember)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kwargs)
    es = ember.optim.lr_scheduler.ReduceLROnPlateau(eo, **kwargs)
    for i, m in enumerate(METRICS * 2):
        ts.step(m)
        es.step(ember.tensor(m, dtype=ember.float64) if i % 2 else m)
        assert es.get_last_lr() == ts.get_last_lr()
        assert (es.best, es.num_bad_epochs, es.cooldown_counter, es.last_epoch) == \
            (ts.best, ts.num_bad_epochs, ts.cooldown_counter, ts.last_epoch)
    sd = es.state_dict()
    assert set(sd) == set(ts.state_dict())
    es2 = ember.optim.lr_scheduler.ReduceLROnPlateau(make_opt(ember))
    es2.load_state_dict(sd)
    assert (es2.mode, es2.best, es2.patience) == (es.mode, es.best, es.patience)


def test_reduce_on_plateau_errors():
    for lib in (torch, ember):
        s = lib.optim.lr_scheduler
        opt = make_opt(lib)
        with pytest.raises(ValueError, match="Factor should be < 1.0."):
            s.ReduceLROnPlateau(opt, factor=1.0)
        with pytest.raises(ValueError, match="mode avg is unknown!"):
            s.ReduceLROnPlateau(opt, mode="avg")
        with pytest.raises(ValueError, match="threshold mode x is unknown!"):
            s.ReduceLROnPlateau(opt, threshold_mode="x")
        with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
            s.ReduceLROnPlateau(opt, min_lr=[0.1])


# -- warnings and errors ----------------------------------------------------------------------
def _messages(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [str(x.message) for x in w if issubclass(x.category, UserWarning)]


def test_step_order_warning():
    msgs = []
    for lib in (torch, ember):
        opt = make_opt(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3)
        msgs.append(_messages(sched.step))
    assert msgs[1] == msgs[0] and len(msgs[1]) == 1
    assert "before `optimizer.step()`" in msgs[1][0]
    # the right order does not warn
    opt = make_opt(ember)
    sched = ember.optim.lr_scheduler.StepLR(opt, 3)
    opt.step()
    assert _messages(sched.step) == []


def test_get_lr_outside_step_warns():
    for lib in (torch, ember):
        sched = lib.optim.lr_scheduler.StepLR(make_opt(lib), 3)
        assert any("get_last_lr()" in m for m in _messages(sched.get_lr))


def test_scheduler_errors():
    for lib in (torch, ember):
        s = lib.optim.lr_scheduler
        opt = make_opt(lib)
        with pytest.raises(TypeError, match="list is not an Optimizer"):
            s.StepLR([], 3)
        with pytest.raises(KeyError, match="param 'initial_lr' is not specified"):
            s.StepLR(make_opt(lib), 3, last_epoch=5)
        with pytest.raises(ValueError, match="Constant multiplicative factor"):
            s.ConstantLR(opt, factor=2.0)
        with pytest.raises(ValueError, match="Starting multiplicative factor"):
            s.LinearLR(opt, start_factor=0)
        with pytest.raises(ValueError, match="Expected positive integer T_0"):
            s.CosineAnnealingWarmRestarts(opt, T_0=0)
        with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
            s.LambdaLR(opt, [lam])
        with pytest.raises(ValueError, match="You must define either total_steps"):
            s.OneCycleLR(opt, max_lr=0.1)
        with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
            s.CyclicLR(opt, 0.01, 0.1, mode="sine")
        with pytest.raises(ValueError, match="optimizer must support momentum"):
            s.CyclicLR(lib.optim.Adagrad(opt.param_groups[0]["params"]), 0.01, 0.1)


def test_one_cycle_too_many_steps():
    for lib in (torch, ember):
        opt = make_opt(lib)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            sched.step()


def test_resume_with_last_epoch():
    for lib in (torch, ember):
        opt = make_opt(lib)
        lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    to, eo = make_opt(torch), make_opt(ember)
    for o in (to, eo):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=10, last_epoch=3)
    es = ember.optim.lr_scheduler.CosineAnnealingLR(eo, T_max=10, last_epoch=3)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    assert es.last_epoch == ts.last_epoch == 4
    assert math.isfinite(es.get_last_lr()[0])


def test_exports():
    names = set(torch.optim.lr_scheduler.__all__)
    assert names <= set(ember.optim.lr_scheduler.__all__)
    assert issubclass(ember.optim.lr_scheduler.OneCycleLR, ember.optim.lr_scheduler.LRScheduler)
