"""swa_utils (AveragedModel, SWALR, update_bn) and SparseAdam against torch, from identical
initial weights."""

import copy

import numpy as np
import pytest
import torch

import ember


def _pair(bn=False):
    """The same small model in both libraries (torch's weights copied into ember)."""
    torch.manual_seed(0)
    layers = lambda nn: [nn.Linear(3, 4)] + ([nn.BatchNorm1d(4)] if bn else []) + [  # noqa: E731
        nn.ReLU(), nn.Linear(4, 2)]
    tm, em = torch.nn.Sequential(*layers(torch.nn)), ember.nn.Sequential(*layers(ember.nn))
    em.load_state_dict({k: ember.tensor(v.numpy().copy()) for k, v in tm.state_dict().items()})
    return tm, em


def _train(tm, em, steps, callback, opt_name="SGD", **opt_kwargs):
    """Train both with the same batches; ``callback(lib_index, model)`` after each step."""
    to = getattr(torch.optim, opt_name)(tm.parameters(), **opt_kwargs)
    eo = getattr(ember.optim, opt_name)(em.parameters(), **opt_kwargs)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x = rng.standard_normal((8, 3)).astype(np.float32)
        for lib, model, opt, i in ((torch, tm, to, 0), (ember, em, eo, 1)):
            opt.zero_grad()
            model(lib.tensor(x)).pow(2).mean().backward()
            opt.step()
            callback(i, model)
    return to, eo


def _assert_state_close(ts, es, rtol=1e-5, atol=1e-6):
    assert list(es) == list(ts)
    for k in ts:
        assert str(es[k].dtype).split(".")[1] == str(ts[k].dtype).split(".")[1], k
        np.testing.assert_allclose(es[k].numpy(), ts[k].numpy(), rtol=rtol, atol=atol,
                                   err_msg=k)


AVG = {
    "swa": lambda su: {},
    "ema_multi": lambda su: dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.9)),
    "swa_multi": lambda su: dict(multi_avg_fn=su.get_swa_multi_avg_fn()),
    "ema_single": lambda su: dict(avg_fn=su.get_ema_avg_fn(0.8)),
    "swa_single": lambda su: dict(avg_fn=su.get_swa_avg_fn()),
}


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("kind", list(AVG))
def test_averaged_model_matches_torch(kind, use_buffers):
    tm, em = _pair(bn=True)
    averaged = [torch.optim.swa_utils.AveragedModel(tm, use_buffers=use_buffers,
                                                    **AVG[kind](torch.optim.swa_utils)),
                ember.optim.swa_utils.AveragedModel(em, use_buffers=use_buffers,
                                                    **AVG[kind](ember.optim.swa_utils))]
    if kind == "swa_multi" and use_buffers:
        # BatchNorm's int64 num_batches_tracked reaches an integer addcdiv_: both refuse
        msg = "Integer division with addcdiv is no longer supported"
        with pytest.raises(RuntimeError, match=msg):
            _train(tm, em, 2, lambda i, m: averaged[i].update_parameters(m), lr=0.1)
        with pytest.raises(RuntimeError, match=msg):
            _train(tm, em, 2, lambda i, m: averaged[1].update_parameters(m) if i else None,
                   lr=0.1)
        return
    _train(tm, em, 5, lambda i, m: averaged[i].update_parameters(m), lr=0.1, momentum=0.9)
    ts, es = averaged[0].state_dict(), averaged[1].state_dict()
    _assert_state_close(ts, es)
    assert int(es["n_averaged"]) == 5 and es["n_averaged"].dtype == ember.int64
    # the averaged model runs the copy, in eval mode as in training mode
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    for mode in (True, False):
        averaged[0].train(mode)
        averaged[1].train(mode)
        np.testing.assert_allclose(averaged[1](ember.tensor(x)).detach().numpy(),
                                   averaged[0](torch.tensor(x)).detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert repr(averaged[1]).replace("ember", "torch") == repr(averaged[0])


def test_averaged_model_state_dict_round_trip():
    tm, em = _pair()
    swa = ember.optim.swa_utils.AveragedModel(em)
    swa.update_parameters(em)
    swa.update_parameters(em)
    fresh = ember.optim.swa_utils.AveragedModel(em)
    fresh.load_state_dict(copy.deepcopy(swa.state_dict()))
    assert int(fresh.n_averaged) == 2
    # and from torch's state dict
    tswa = torch.optim.swa_utils.AveragedModel(tm)
    for _ in range(3):
        tswa.update_parameters(tm)
    fresh.load_state_dict({k: ember.tensor(v.numpy().copy())
                           for k, v in tswa.state_dict().items()})
    assert int(fresh.n_averaged) == 3
    _assert_state_close(tswa.state_dict(), fresh.state_dict())


def test_averaged_model_errors():
    tm, em = _pair()
    for lib, m in ((torch, tm), (ember, em)):
        su = lib.optim.swa_utils
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            su.AveragedModel(m, avg_fn=su.get_swa_avg_fn(),
                             multi_avg_fn=su.get_swa_multi_avg_fn())
        for bad in (-0.1, 1.5):
            for fn in (su.get_ema_avg_fn, su.get_ema_multi_avg_fn):
                with pytest.raises(ValueError, match=rf"Invalid decay value {bad} provided"):
                    fn(bad)


@pytest.mark.parametrize("kwargs", [dict(swa_lr=0.05, anneal_epochs=3),
                                    dict(swa_lr=[0.05, 0.2], anneal_epochs=4,
                                         anneal_strategy="linear"),
                                    dict(swa_lr=0.01, anneal_epochs=0)])
def test_swalr_matches_torch(kwargs):
    tm, em = _pair()
    lrs = []
    for lib, m in ((torch, tm), (ember, em)):
        groups = [{"params": list(m.parameters())[:2]},
                  {"params": list(m.parameters())[2:], "lr": 0.3}]
        opt = lib.optim.ASGD(groups, lr=0.5)
        sched = lib.optim.swa_utils.SWALR(opt, **kwargs)
        seen = []
        for _ in range(7):
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr())
        lrs.append((seen, [g["swa_lr"] for g in opt.param_groups], sched.state_dict()))
    np.testing.assert_allclose(np.array(lrs[1][0]), np.array(lrs[0][0]), rtol=1e-12)
    assert lrs[1][1] == lrs[0][1]
    assert lrs[1][2] == lrs[0][2]


def test_swalr_state_dict_round_trip_and_errors():
    _, em = _pair()
    opt = ember.optim.SGD(em.parameters(), lr=0.5)
    sched = ember.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_strategy="linear")
    for _ in range(3):
        opt.step()
        sched.step()
    opt2 = ember.optim.SGD(em.parameters(), lr=0.5)
    sched2 = ember.optim.swa_utils.SWALR(opt2, swa_lr=0.05)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.anneal_func(0.5) == 0.5 and "anneal_func" not in sched.state_dict()
    tm, _ = _pair()
    for lib, ps in ((torch, tm.parameters()), (ember, em.parameters())):
        opt = lib.optim.SGD(ps, lr=0.1)
        su = lib.optim.swa_utils
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or "
                                             "'linear', instead got step"):
            su.SWALR(opt, 0.1, anneal_strategy="step")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, "
                                             "got -1"):
            su.SWALR(opt, 0.1, anneal_epochs=-1)
        with pytest.raises(ValueError, match="swa_lr must have the same length"):
            su.SWALR(opt, [0.1, 0.2])


def test_update_bn_matches_torch():
    tm, em = _pair(bn=True)
    rng = np.random.default_rng(4)
    batches = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(4)]
    tm.eval()
    em.eval()
    torch.optim.swa_utils.update_bn([(torch.tensor(b), 0) for b in batches], tm)
    ember.optim.swa_utils.update_bn([(ember.tensor(b), 0) for b in batches], em)
    assert not em.training and not tm.training
    assert em[1].momentum == tm[1].momentum == 0.1
    _assert_state_close(tm.state_dict(), em.state_dict())
    # a model without BatchNorm is left alone
    plain = ember.nn.Linear(3, 2)
    ember.optim.swa_utils.update_bn([ember.tensor(batches[0])], plain)


def test_averaged_model_with_swalr_training_loop():
    """The documented SWA recipe: train, average from step 3 on, anneal the lr, update_bn."""
    tm, em = _pair(bn=True)
    swa = [torch.optim.swa_utils.AveragedModel(tm), ember.optim.swa_utils.AveragedModel(em)]
    opts, scheds = [], []
    for lib, m in ((torch, tm), (ember, em)):
        opts.append(lib.optim.SGD(m.parameters(), lr=0.1))
        scheds.append(lib.optim.swa_utils.SWALR(opts[-1], swa_lr=0.02, anneal_epochs=2))
    rng = np.random.default_rng(5)
    for step in range(6):
        x = rng.standard_normal((8, 3)).astype(np.float32)
        for i, (lib, m) in enumerate(((torch, tm), (ember, em))):
            opts[i].zero_grad()
            m(lib.tensor(x)).pow(2).mean().backward()
            opts[i].step()
            if step >= 2:
                swa[i].update_parameters(m)
                scheds[i].step()
    loader = [rng.standard_normal((8, 3)).astype(np.float32) for _ in range(2)]
    torch.optim.swa_utils.update_bn([torch.tensor(b) for b in loader], swa[0])
    ember.optim.swa_utils.update_bn([ember.tensor(b) for b in loader], swa[1])
    _assert_state_close(swa[0].state_dict(), swa[1].state_dict())


# -- SparseAdam -------------------------------------------------------------------------------
@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_with_sparse_embedding_matches_torch(maximize):
    torch.manual_seed(0)
    te = torch.nn.Embedding(10, 3, sparse=True)
    ee = ember.nn.Embedding(10, 3, sparse=True)
    ee.weight.data = ember.tensor(te.weight.detach().numpy().copy())
    to = torch.optim.SparseAdam(te.parameters(), lr=0.05, maximize=maximize)
    eo = ember.optim.SparseAdam(ee.parameters(), lr=0.05, maximize=maximize)
    rng = np.random.default_rng(0)
    for _ in range(6):
        idx = rng.integers(0, 10, 5)
        for lib, emb, opt in ((torch, te, to), (ember, ee, eo)):
            opt.zero_grad()
            (emb(lib.tensor(idx)) ** 2).sum().backward()
            opt.step()
    np.testing.assert_allclose(ee.weight.detach().numpy(), te.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    ts, es = to.state_dict(), eo.state_dict()
    assert es["param_groups"] == ts["param_groups"]
    assert es["state"][0]["step"] == ts["state"][0]["step"] == 6
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_allclose(es["state"][0][key].numpy(), ts["state"][0][key].numpy(),
                                   rtol=1e-5, atol=1e-7)
    # the state dict round trip continues identically
    eo2 = ember.optim.SparseAdam([ember.nn.Parameter(ee.weight.detach().clone())], lr=0.05)
    eo2.load_state_dict(copy.deepcopy(eo.state_dict()))
    assert eo2.state_dict()["state"][0]["step"] == 6
    assert eo2.param_groups[0]["maximize"] == maximize
