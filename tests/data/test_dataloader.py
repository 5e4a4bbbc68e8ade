"""ember.utils.data against torch.utils.data: same batches, same orders, same errors."""

from __future__ import annotations

import collections
import math
import os
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata

Point = collections.namedtuple("Point", "x y")


def same(ours, theirs, path="batch"):
    """Equal structure, container types, tensor dtypes, shapes and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, ember.Tensor), f"{path}: {type(ours)} is not a Tensor"
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1], path
        assert tuple(ours.shape) == tuple(theirs.shape), path
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=path)
    elif isinstance(theirs, (dict, list, tuple)):
        assert type(ours).__name__ == type(theirs).__name__, f"{path}: {type(ours)}"
        assert len(ours) == len(theirs), path
        if isinstance(theirs, dict):
            assert list(ours) == list(theirs), path
            for k in theirs:
                same(ours[k], theirs[k], f"{path}[{k!r}]")
        else:
            for i, (a, b) in enumerate(zip(ours, theirs)):
                same(a, b, f"{path}[{i}]")
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype, path
        np.testing.assert_array_equal(ours, theirs)
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{path}: {ours!r} != {theirs!r}"


def to_torch(obj):
    """The same sample with ember tensors replaced by torch tensors."""
    if isinstance(obj, ember.Tensor):
        return torch.from_numpy(obj.numpy().copy())
    if isinstance(obj, Point):
        return Point(*map(to_torch, obj))
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, to_torch(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch(v) for v in obj)
    return obj


def tensors(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % 3
    return (edata.TensorDataset(ember.tensor(x), ember.tensor(y)),
            tdata.TensorDataset(torch.tensor(x), torch.tensor(y)))


def batches(loader):
    return [b for b in loader]


# -- batching, drop_last, len, shuffling ---------------------------------------------------------

@pytest.mark.parametrize("n", [1, 7, 9, 10])
@pytest.mark.parametrize("batch_size", [1, 3, 10, 12])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batching_len_drop_last(n, batch_size, drop_last):
    ed, td = tensors(n)
    el = edata.DataLoader(ed, batch_size=batch_size, drop_last=drop_last)
    tl = tdata.DataLoader(td, batch_size=batch_size, drop_last=drop_last)
    assert len(el) == len(tl)
    same(batches(el), batches(tl))


@pytest.mark.parametrize("seed", [0, 1, 123, 2**40 + 3])
def test_shuffle_with_generator_matches_torch(seed):
    ed, td = tensors(23)
    eg, tg = ember.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    el = edata.DataLoader(ed, batch_size=4, shuffle=True, generator=eg)
    tl = tdata.DataLoader(td, batch_size=4, shuffle=True, generator=tg)
    for _ in range(3):                          # each epoch a new order, in step with torch
        same(batches(el), batches(tl))
    assert eg.get_state().numpy().tobytes() == tg.get_state().numpy().tobytes()


def test_shuffle_default_generator_stream_matches_torch():
    ember.manual_seed(7)
    torch.manual_seed(7)
    ed, td = tensors(11)
    for _ in range(2):
        same(batches(edata.DataLoader(ed, batch_size=3, shuffle=True)),
             batches(tdata.DataLoader(td, batch_size=3, shuffle=True)))
    # Iterating draws the workers' base seed and the sampler's seed from the default generator.
    np.testing.assert_array_equal(ember.rand(5).numpy(), torch.rand(5).numpy())


def test_partial_epoch_then_new_epoch():
    ed, td = tensors(12)
    el = edata.DataLoader(ed, batch_size=5, shuffle=True, generator=ember.Generator())
    tl = tdata.DataLoader(td, batch_size=5, shuffle=True, generator=torch.Generator())
    ei, ti = iter(el), iter(tl)
    same(next(ei), next(ti))
    same(batches(el), batches(tl))
    same(next(ei), next(ti))


def test_batch_size_none_and_custom_collate():
    ed, td = tensors(4)
    same(batches(edata.DataLoader(ed, batch_size=None)), batches(tdata.DataLoader(
        td, batch_size=None)))
    el = edata.DataLoader(list(range(7)), batch_size=3, collate_fn=lambda b: sum(b))
    assert batches(el) == [3, 12, 6]


def test_sampler_and_batch_sampler_arguments():
    data = list(range(10))
    order = [9, 2, 4, 0, 7]
    same(batches(edata.DataLoader(data, batch_size=2, sampler=order)),
         batches(tdata.DataLoader(data, batch_size=2, sampler=order)))
    groups = [[1, 2, 3], [0], [9, 8]]
    same(batches(edata.DataLoader(data, batch_sampler=groups)),
         batches(tdata.DataLoader(data, batch_sampler=groups)))
    assert len(edata.DataLoader(data, batch_sampler=groups)) == 3


class Items(edata.Dataset):
    def __init__(self, n):
        self.n = n
        self.calls = []

    def __getitem__(self, i):
        return {"i": i, "x": np.full(2, i, np.float32)}

    def __len__(self):
        return self.n


class BatchedItems(Items):
    def __getitems__(self, idx):
        self.calls.append(list(idx))
        return [self[i] for i in idx]


def test_getitems_is_used_for_batches():
    ds = BatchedItems(5)
    out = batches(edata.DataLoader(ds, batch_size=2))
    assert ds.calls == [[0, 1], [2, 3], [4]]
    assert out[2]["i"].tolist() == [4]


@pytest.mark.parametrize("kwargs", [
    dict(batch_size=2, batch_sampler=[[0]]),
    dict(shuffle=True, batch_sampler=[[0]]),
    dict(sampler=[0], batch_sampler=[[0]]),
    dict(drop_last=True, batch_sampler=[[0]]),
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_size=None, drop_last=True),
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(persistent_workers=True),
    dict(num_workers=1, prefetch_factor=-1),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="no-such-method"),
    dict(num_workers=1, multiprocessing_context=3),
    dict(batch_size=0),
    dict(batch_size=True),
    dict(drop_last=1),
])
def test_incompatible_arguments_raise_like_torch(kwargs):
    with pytest.raises(Exception) as t_err:
        tdata.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(t_err.type) as e_err:
        edata.DataLoader(list(range(4)), **kwargs)
    assert str(e_err.value) == str(t_err.value)


def test_attributes_are_frozen_after_init():
    el, tl = edata.DataLoader([1, 2]), tdata.DataLoader([1, 2])
    for attr in ("batch_size", "sampler", "dataset", "drop_last"):
        with pytest.raises(ValueError) as t_err:
            setattr(tl, attr, None)
        with pytest.raises(ValueError) as e_err:
            setattr(el, attr, None)
        assert str(e_err.value) == str(t_err.value)
    el.num_workers = 0                          # other attributes stay settable


def test_pin_memory_is_accepted():
    with pytest.warns(UserWarning, match="pin_memory"):
        out = batches(edata.DataLoader([1.0, 2.0], batch_size=2, pin_memory=True))
    same(out, [torch.tensor([1.0, 2.0], dtype=torch.float64)])


# -- default_collate / default_convert ---------------------------------------------------------

def _sample(i):
    base = np.arange(6, dtype=np.float32).reshape(2, 3) + i
    return {
        "tensor": ember.tensor(base),
        "scalar_tensor": ember.tensor(float(i)),
        "noncontig": ember.tensor(base).t(),
        "int_tensor": ember.tensor([i, i + 1]),
        "empty": ember.zeros(0, 2),
        "np_f32": base.copy(),
        "np_i32": np.array([i, 2 * i], np.int32),
        "np_bool": np.array([i % 2 == 0]),
        "np_f64_scalar": np.float64(i + 0.5),
        "np_i32_scalar": np.int32(i),
        "np_bool_scalar": np.bool_(i % 2),
        "float": i + 0.25,
        "int": i,
        "bool": i % 2 == 1,
        "str": f"s{i}",
        "bytes": b"b%d" % i,
        "tuple": (i, f"t{i}", i * 1.5),
        "list": [i, [i + 1.0, i + 2.0]],
        "named": Point(i, np.float32(i)),
        "odict": collections.OrderedDict(a=i, b=[ember.tensor(i)]),
    }


def test_default_collate_every_type_matches_torch():
    ours = [_sample(i) for i in range(3)]
    same(edata.default_collate(ours), tdata.default_collate(to_torch(ours)))


@pytest.mark.parametrize("batch", [
    [1.5, 2.0], [1, 2], [True, False], [1, 2.5], ["a", "b"], [(1, 2.0), (3, 4.0)],
    [np.float32(1), np.float32(2)], [np.array(3.0), np.array(4.0)],
    [np.zeros((2, 0)), np.zeros((2, 0))], [Point(1, "a"), Point(2, "b")],
])
def test_default_collate_leaves(batch):
    same(edata.default_collate(batch), tdata.default_collate(batch))


@pytest.mark.parametrize("batch", [
    [np.zeros(2), np.zeros(3)], [[1, 2], [3]], [object(), object()], [None, None],
    [np.array(["a"]), np.array(["b"])], [{"a": np.zeros(1)}, {"a": np.zeros(2)}],
])
def test_default_collate_errors_match_torch(batch):
    with pytest.raises(Exception) as t_err:
        tdata.default_collate(batch)
    with pytest.raises(t_err.type) as e_err:
        edata.default_collate(batch)
    assert str(e_err.value) == str(t_err.value)


def test_default_collate_mismatched_tensor_sizes():
    with pytest.raises(RuntimeError) as t_err:
        tdata.default_collate([torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 2)])
    with pytest.raises(RuntimeError) as e_err:
        edata.default_collate([ember.zeros(2, 3), ember.zeros(2, 3), ember.zeros(3, 2)])
    assert str(e_err.value) == str(t_err.value)


def test_default_collate_keeps_autograd_when_stack_exists():
    w = ember.ones(2, requires_grad=True)
    out = edata.default_collate([w * 2, w * 3])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])


@pytest.mark.parametrize("data", [
    np.float32(1.5), np.float64(2.5), np.int32(3), np.arange(4), np.array(["x"]),
    [np.zeros(2), 1.5, "s"], (np.ones(1), 2), {"a": np.int64(3)}, Point(np.ones(1), 2),
    collections.OrderedDict(k=np.zeros(1, np.float16)), "text", 7,
])
def test_default_convert_matches_torch(data):
    same(edata.default_convert(data), tdata.default_convert(data))


# -- samplers -----------------------------------------------------------------------------------

def gens(seed):
    return ember.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("seed", [0, 5, 99])
@pytest.mark.parametrize("replacement,num_samples", [
    (False, None), (False, 4), (False, 23), (True, None), (True, 70), (True, 5)])
def test_random_sampler_matches_torch(seed, replacement, num_samples):
    eg, tg = gens(seed)
    es = edata.RandomSampler(range(9), replacement, num_samples, generator=eg)
    ts = tdata.RandomSampler(range(9), replacement, num_samples, generator=tg)
    assert len(es) == len(ts)
    assert list(es) == list(ts)
    assert list(es) == list(ts)                 # the generator advances identically


def test_random_sampler_without_generator_seeds_from_default():
    ember.manual_seed(11)
    torch.manual_seed(11)
    assert list(edata.RandomSampler(range(30))) == list(tdata.RandomSampler(range(30)))
    np.testing.assert_array_equal(ember.rand(3).numpy(), torch.rand(3).numpy())


@pytest.mark.parametrize("kwargs", [dict(replacement=1), dict(num_samples=0),
                                    dict(num_samples=2.0)])
def test_random_sampler_errors(kwargs):
    with pytest.raises(Exception) as t_err:
        tdata.RandomSampler(range(3), **kwargs)
    with pytest.raises(t_err.type, match=str(t_err.value)):
        edata.RandomSampler(range(3), **kwargs)


def test_subset_random_sampler_matches_torch():
    eg, tg = gens(3)
    idx = [10, 20, 30, 40, 50, 60]
    es, ts = edata.SubsetRandomSampler(idx, eg), tdata.SubsetRandomSampler(idx, tg)
    assert len(es) == 6 and list(es) == list(ts) and list(es) == list(ts)


@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("seed", [0, 8])
def test_weighted_random_sampler_matches_torch(replacement, seed):
    w = [0.1, 0.9, 0.4, 0.7, 3.0, 0.6]
    eg, tg = gens(seed)
    es = edata.WeightedRandomSampler(w, 5, replacement, generator=eg)
    ts = tdata.WeightedRandomSampler(w, 5, replacement, generator=tg)
    assert len(es) == 5 and list(es) == list(ts) and list(es) == list(ts)


@pytest.mark.parametrize("args", [([1.0, 2.0], 0), ([1.0], True), ([1.0], 2, 1),
                                  ([[1.0, 2.0]], 1)])
def test_weighted_random_sampler_errors(args):
    with pytest.raises(Exception) as t_err:
        tdata.WeightedRandomSampler(*args)
    with pytest.raises(t_err.type) as e_err:
        edata.WeightedRandomSampler(*args)
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True), (0, 2, False),
                                       (2, 5, True)])
def test_batch_sampler_and_sequential(n, bs, drop):
    es = edata.BatchSampler(edata.SequentialSampler(range(n)), bs, drop)
    ts = tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop)
    assert len(es) == len(ts) and list(es) == list(ts)


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.5], [0.33, 0.33, 0.34],
                                     [1 / 3] * 3, [10], [0.1] * 10])
@pytest.mark.parametrize("seed", [0, 42])
def test_random_split_matches_torch(lengths, seed):
    eg, tg = gens(seed)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        ts = tdata.random_split(range(10), lengths, generator=tg)
    with warnings.catch_warnings(record=True) as ew:
        warnings.simplefilter("always")
        es = edata.random_split(range(10), lengths, generator=eg)
    assert [list(s.indices) for s in es] == [list(s.indices) for s in ts]
    assert [str(w.message) for w in ew] == [str(w.message) for w in tw]
    assert all(isinstance(s, edata.Subset) for s in es)


def test_random_split_default_generator_and_errors():
    ember.manual_seed(4)
    torch.manual_seed(4)
    assert [s.indices for s in edata.random_split(range(8), [5, 3])] == \
        [s.indices for s in tdata.random_split(range(8), [5, 3])]
    for lengths in ([3, 3], [0.5, 1.5, -1.0], [1.2, -0.2]):
        with pytest.raises(ValueError) as t_err:
            tdata.random_split(range(8), lengths)
        with pytest.raises(ValueError, match=str(t_err.value).replace("!", "")):
            edata.random_split(range(8), lengths)


# -- datasets -----------------------------------------------------------------------------------

def test_dataset_combinators():
    ed, td = tensors(5)
    cat_e, cat_t = ed + ed, td + td
    assert isinstance(cat_e, edata.ConcatDataset) and len(cat_e) == len(cat_t) == 10
    for i in (0, 4, 5, 9, -1, -10):
        same(cat_e[i], cat_t[i])
    with pytest.raises(ValueError, match="absolute value of index"):
        cat_e[-11]
    sub_e, sub_t = edata.Subset(ed, [4, 0, 2]), tdata.Subset(td, [4, 0, 2])
    same([sub_e[i] for i in range(3)], [sub_t[i] for i in range(3)])
    same(sub_e.__getitems__([2, 0]), sub_t.__getitems__([2, 0]))
    st_e, st_t = edata.StackDataset(ed, ed), tdata.StackDataset(td, td)
    same(st_e[1], st_t[1])
    same(st_e.__getitems__([0, 3]), st_t.__getitems__([0, 3]))
    rev_e, rev_t = edata.Subset(ed, [4, 3, 2, 1, 0]), tdata.Subset(td, [4, 3, 2, 1, 0])
    kw_e, kw_t = edata.StackDataset(a=ed, b=rev_e), tdata.StackDataset(a=td, b=rev_t)
    assert len(kw_e) == 5
    same(kw_e[2], kw_t[2])
    with pytest.raises(AssertionError, match="Size mismatch"):
        edata.TensorDataset(ember.zeros(2), ember.zeros(3))
    with pytest.raises(ValueError, match="Size mismatch"):
        edata.StackDataset(ed, sub_e)
    with pytest.raises(AssertionError, match="empty iterable"):
        edata.ConcatDataset([])
    with pytest.raises(NotImplementedError):
        edata.Dataset()[0]


class Stream(edata.IterableDataset):
    """0..n-1, split across workers when there are several."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = edata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class TStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("batch_size,drop_last", [(None, False), (1, False), (3, False),
                                                  (3, True), (10, False)])
def test_iterable_dataset_single_process(batch_size, drop_last):
    el = edata.DataLoader(Stream(7), batch_size=batch_size, drop_last=drop_last)
    tl = tdata.DataLoader(TStream(7), batch_size=batch_size, drop_last=drop_last)
    assert len(el) == len(tl)
    same(batches(el), batches(tl))
    chain = edata.ChainDataset([Stream(2), Stream(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    assert list(Stream(1) + Stream(2)) == [0, 0, 1]


@pytest.mark.parametrize("kwargs", [dict(shuffle=True), dict(sampler=[0]),
                                    dict(batch_sampler=[[0]])])
def test_iterable_dataset_rejects_samplers(kwargs):
    with pytest.raises(ValueError, match="expected unspecified"):
        edata.DataLoader(Stream(3), **kwargs)


def test_iterable_dataset_length_warning():
    class Liar(Stream):
        def __len__(self):
            return 2

    el = edata.DataLoader(Liar(4), batch_size=None)
    assert len(el) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        assert batches(el) == [0, 1, 2, 3]


# -- worker processes ---------------------------------------------------------------------------

class Squares(edata.Dataset):
    def __getitem__(self, i):
        return {"i": i, "sq": ember.tensor([float(i * i)]), "wid": edata.get_worker_info().id}

    def __len__(self):
        return 17


class Failing(edata.Dataset):
    def __getitem__(self, i):
        if i == 5:
            raise KeyError("no item five")
        return i

    def __len__(self):
        return 8


class Seeds(edata.Dataset):
    def __getitem__(self, i):
        info = edata.get_worker_info()
        return [info.id, info.seed, float(ember.rand(1)), float(np.random.rand())]

    def __len__(self):
        return 4


class TSeeds(tdata.Dataset):
    def __getitem__(self, i):
        info = tdata.get_worker_info()
        return [info.id, info.seed, float(torch.rand(1)), float(np.random.rand())]

    def __len__(self):
        return 4


def _record_init(worker_id):
    os.environ["EMBER_TEST_WORKER"] = str(worker_id)


def test_workers_give_the_same_batches_in_order():
    ds, tds = tensors(37)
    for shuffle in (False, True):
        single = batches(edata.DataLoader(ds, batch_size=4, shuffle=shuffle,
                                          generator=ember.Generator().manual_seed(2)))
        multi = batches(edata.DataLoader(ds, batch_size=4, shuffle=shuffle, num_workers=2,
                                         generator=ember.Generator().manual_seed(2)))
        theirs = batches(tdata.DataLoader(tds, batch_size=4, shuffle=shuffle, num_workers=2,
                                          generator=torch.Generator().manual_seed(2)))
        same(multi, theirs)
        same(single, theirs)


def test_workers_info_and_init_fn():
    assert edata.get_worker_info() is None
    out = batches(edata.DataLoader(Squares(), batch_size=3, num_workers=2, prefetch_factor=1,
                                   worker_init_fn=_record_init))
    assert [b["i"].tolist() for b in out] == [list(range(i, min(i + 3, 17)))
                                              for i in range(0, 17, 3)]
    assert [b["wid"].tolist()[0] for b in out] == [0, 1, 0, 1, 0, 1]   # round-robin
    np.testing.assert_array_equal(out[1]["sq"].numpy(), [[9.0], [16.0], [25.0]])
    assert "EMBER_TEST_WORKER" not in os.environ     # it ran in the workers only


def test_worker_seeds_match_torch():
    eg, tg = gens(21)
    ours = batches(edata.DataLoader(Seeds(), batch_size=2, num_workers=2, generator=eg))
    theirs = batches(tdata.DataLoader(TSeeds(), batch_size=2, num_workers=2, generator=tg))
    same(ours, theirs)


def test_worker_error_is_reraised_with_traceback():
    loader = edata.DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    assert next(it).tolist() == [2, 3]
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0") as e:
        next(it)
    assert "no item five" in str(e.value) and "Traceback" in str(e.value)


def test_worker_iterable_dataset_split_and_persistent_workers():
    for persistent in (False, True):
        el = edata.DataLoader(Stream(11), batch_size=2, num_workers=2,
                              persistent_workers=persistent)
        tl = tdata.DataLoader(TStream(11), batch_size=2, num_workers=2,
                              persistent_workers=persistent)
        for _ in range(2):
            same(batches(el), batches(tl))


def test_persistent_workers_restart_after_partial_epoch():
    ds, _ = tensors(20)
    el = edata.DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True)
    first = next(iter(el))
    full = batches(el)
    assert len(full) == math.ceil(20 / 3)
    same(full[0], to_torch(first))
    assert el._iterator is iter(el)


def test_worker_unbatched_and_timeout_argument():
    out = batches(edata.DataLoader(Items(3), batch_size=None, num_workers=2, timeout=30))
    same(out, [{"i": i, "x": torch.full((2,), float(i))} for i in range(3)])


class Dies(edata.Dataset):
    def __getitem__(self, i):
        if i == 2:
            os._exit(3)                         # a worker killed mid-epoch
        return i

    def __len__(self):
        return 6


class Slow(edata.Dataset):
    def __getitem__(self, i):
        import time
        time.sleep(3)
        return i

    def __len__(self):
        return 2


def test_dead_worker_and_timeout_raise(monkeypatch):
    from ember.utils.data import dataloader
    monkeypatch.setattr(dataloader, "_WATCH_S", 0.2)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly"):
        batches(edata.DataLoader(Dies(), batch_size=1, num_workers=2))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        batches(edata.DataLoader(Slow(), num_workers=1, timeout=0.5))
