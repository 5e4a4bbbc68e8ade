"""Custom Datasets and loaders, module containers, hooks, EMA copies and state-dict surgery."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

import copy

import numpy as np

from .harness import run_both


def custom_dataset(torch):
    data = torch.utils.data

    class WindowDataset(data.Dataset):
        def __init__(self, series, window):
            self.series = series
            self.window = window

        def __len__(self):
            return len(self.series) - self.window

        def __getitem__(self, idx):
            x = self.series[idx:idx + self.window]
            y = self.series[idx + self.window]
            return {"x": torch.as_tensor(x, dtype=torch.float32), "y": np.float32(y),
                    "idx": idx, "name": f"w{idx}"}

    series = np.sin(np.linspace(0, 6, 40)).astype(np.float32)
    ds = WindowDataset(series, 5)
    torch.manual_seed(3)
    loader = data.DataLoader(ds, batch_size=8, shuffle=True, drop_last=True, num_workers=0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.Adagrad(model.parameters(), lr=0.1)
    losses, first = [], None
    for epoch in range(2):
        for batch in loader:
            if first is None:
                first = batch
            pred = model(batch["x"]).squeeze(-1)
            loss = torch.nn.functional.mse_loss(pred, batch["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    weights = torch.tensor([0.1, 0.9, 0.5, 0.5])
    sampler = data.WeightedRandomSampler(weights, num_samples=8, replacement=True)
    subset = data.Subset(ds, [0, 2, 4])
    concat = data.ConcatDataset([subset, subset])
    batches = [b["idx"].tolist() for b in data.DataLoader(concat, batch_size=4)]
    seq = data.DataLoader(list(range(10)), batch_size=3, sampler=data.SequentialSampler(range(10)))
    gen = torch.Generator().manual_seed(42)
    tr, va = data.random_split(range(10), [0.7, 0.3], generator=gen)
    return {"losses": losses, "first_idx": first["idx"], "first_name": first["name"],
            "first_y": first["y"], "n": len(loader), "sampled": list(sampler),
            "batches": batches, "seq": [b.tolist() for b in seq],
            "split": [list(tr), list(va)], "y_dtype": str(first["y"].dtype).split(".")[-1]}


def test_custom_dataset():
    run_both(custom_dataset)


def collate_and_padding(torch):
    data = torch.utils.data
    rnn = torch.nn.utils.rnn
    sentences = [[3, 1, 4, 1], [5, 9], [2, 6, 5], [3]]

    def collate_fn(batch):
        batch = sorted(batch, key=len, reverse=True)
        lengths = torch.tensor([len(s) for s in batch])
        padded = rnn.pad_sequence([torch.tensor(s) for s in batch], batch_first=True,
                                  padding_value=0)
        return padded, lengths

    loader = data.DataLoader(sentences, batch_size=4, collate_fn=collate_fn)
    padded, lengths = next(iter(loader))
    torch.manual_seed(0)
    emb = torch.nn.Embedding(10, 4, padding_idx=0)
    lstm = torch.nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    packed = rnn.pack_padded_sequence(emb(padded), lengths, batch_first=True)
    out, (h, c) = lstm(packed)
    unpacked, out_lens = rnn.pad_packed_sequence(out, batch_first=True)
    final = torch.cat([h[-2], h[-1]], dim=1)
    final.sum().backward()
    return {"padded": padded, "lengths": lengths, "unpacked": unpacked, "lens": out_lens,
            "final": final, "grad": emb.weight.grad, "batch_sizes": packed.batch_sizes}


def test_collate_and_padding():
    run_both(collate_and_padding)


def containers_hooks_ema(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Linear(4, 4)})
            self.scales = nn.ParameterList([nn.Parameter(torch.ones(4)) for _ in range(2)])
            self.temp = nn.Parameter(torch.tensor(1.0))
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))
            self.register_buffer("scratch", torch.zeros(4), persistent=False)

        def forward(self, x):
            self.steps += 1
            for (name, block), s in zip(self.blocks.items(), self.scales):
                x = torch.relu(block(x)) * s
            return x / self.temp

    torch.manual_seed(12)
    model = Net()
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    features = {}

    def hook(module, inp, out):
        features["a"] = out.detach()

    handle = model.blocks["a"].register_forward_hook(hook)
    grads = []
    model.temp.register_hook(lambda g: grads.append(g.item()))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(6, 4)
    decay = 0.9
    for _ in range(3):
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.parameters()):
                p_ema.mul_(decay).add_(p, alpha=1 - decay)
    handle.remove()
    model(x)
    sd = model.state_dict()
    backbone = {k.replace("blocks.", ""): v for k, v in sd.items() if k.startswith("blocks.")}
    fresh = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Linear(4, 4)})
    fresh.load_state_dict(backbone)
    vec = nn.utils.parameters_to_vector(model.parameters())
    return {"keys": list(sd), "steps": model.steps.item(), "ema": list(ema.parameters()),
            "feat": features["a"], "grads": grads, "vec": vec,
            "fresh": fresh["b"].weight, "children": [n for n, _ in model.named_children()],
            "modules": len(list(model.modules())), "buffers": [n for n, _ in model.named_buffers()],
            "ema_out": ema(x), "train": ema.training}


def test_containers_hooks_ema():
    run_both(containers_hooks_ema)


def dtype_and_device_moves(torch):
    nn = torch.nn
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model = model.double()
    x = torch.randn(5, 3, dtype=torch.float64)
    out64 = model(x)
    model.to(torch.float32)
    out32 = model(x.float())
    model.to("cpu", dtype=torch.float64)
    x_int = torch.randint(0, 5, (4,))
    mixed = x_int * 0.5 + torch.ones(4, dtype=torch.float64)
    halves = torch.ones(2, dtype=torch.float16) + 1
    return {"out64": out64, "out32": out32,
            "dtypes": [str(p.dtype).split(".")[-1] for p in model.parameters()],
            "mixed": mixed, "mixed_dtype": str(mixed.dtype).split(".")[-1],
            "halves": halves.float(), "long": x_int.long().dtype == torch.int64,
            "is_fp": [out64.is_floating_point(), x_int.is_floating_point()],
            "type_as": x_int.type_as(out32), "bool_sum": (x_int > 2).sum().item(),
            "int_div": (x_int // 2).tolist(), "true_div": (x_int / 2).tolist()}


def test_dtype_and_device_moves():
    run_both(dtype_and_device_moves)
