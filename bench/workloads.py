"""Workloads, each written once against the torch API: ``make(torch)`` returns a callable
running one unit of work (an iteration, a training step), plus how many units it runs per
call (for per-op numbers). ``torch`` is either real PyTorch or ember."""

from __future__ import annotations

import numpy as np


def seed_loop(torch):
    """The seed's first cell: create x, x*2+5, sum, backward."""
    def step():
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        result = x * 2 + 5
        result.sum().backward()
        return x.grad
    return step, 1


def seed_loop2(torch):
    """The seed's second cell: two leaves, x*y, sum, backward."""
    def step():
        x = torch.tensor([2.0, 3.0], requires_grad=True)
        y = torch.tensor([4.0, 5.0], requires_grad=True)
        (x * y).sum().backward()
        return x.grad
    return step, 1


def small_chain(torch):
    """200 chained elementwise ops on 16 elements, forward + backward (per op)."""
    data = np.linspace(-0.5, 0.5, 16).astype(np.float32)

    def step():
        x = torch.tensor(data, requires_grad=True)
        y = x
        for _ in range(40):
            y = (y * 0.9 + 0.1).tanh().exp().sigmoid()
        y.sum().backward()
        return x.grad
    return step, 200


def deep_chain(torch):
    """Backward through 50,000 ops on a 1-element tensor."""
    def step():
        x = torch.tensor([1.0], requires_grad=True)
        y = x
        for _ in range(50_000):
            y = y * 1.0
        y.sum().backward()
        return x.grad
    return step, 1


def _training_step(model, opt, loss_fn, x, y):
    """One optimisation step (zero_grad, forward, loss, backward, step) as a callable."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _mlp_data(torch):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 128))
    return x, y


def mlp_step(torch):
    """784-256-128-10 ReLU MLP, CrossEntropyLoss, SGD(momentum=0.9), batch 128."""
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _mlp_data(torch)

    return _training_step(model, opt, loss_fn, x, y), 1


def cnn_step(torch):
    """LeNet-5 on (64, 1, 28, 28), CrossEntropy, Adam."""
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 64))

    return _training_step(model, opt, loss_fn, x, y), 1


def lstm_step(torch):
    """nn.LSTM(32 -> 128) over 35 steps, batch 20, Linear to 50 classes, CE, Adam."""
    nn = torch.nn
    torch.manual_seed(0)
    lstm = nn.LSTM(32, 128)
    head = nn.Linear(128, 50)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((35, 20, 32)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 50, 35 * 20))

    def step():
        opt.zero_grad()
        out, _ = lstm(x)
        loss = loss_fn(head(out.reshape(-1, 128)), y)
        loss.backward()
        opt.step()
        return loss
    return step, 1


def transformer_step(torch):
    """2-layer TransformerEncoder (d_model 128, 4 heads, ff 512) on (32, 64) tokens."""
    nn = torch.nn
    torch.manual_seed(0)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(1000, 128)
            layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(128, 10)

        def forward(self, tokens):
            return self.head(self.encoder(self.embed(tokens)).mean(1))

    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.integers(0, 1000, (32, 64)))
    y = torch.tensor(rng.integers(0, 10, 32))
    return _training_step(model, opt, loss_fn, x, y), 1


def mlp_gemm_floor(torch):
    """The floor for mlp_step: NumPy's BLAS alone on the step's matrix products."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    ws = [rng.standard_normal(s).astype(np.float32) for s in ((256, 784), (128, 256), (10, 128))]

    def step():
        h = x
        acts = []
        for w in ws:
            acts.append(h)
            h = h @ w.T
        g = np.ones_like(h)
        for w, a in zip(reversed(ws), reversed(acts)):
            _ = g.T @ a
            g = g @ w
        return g
    return step, 1


WORKLOADS = {
    "seed_loop": seed_loop, "seed_loop2": seed_loop2, "small_chain": small_chain,
    "deep_chain": deep_chain, "mlp_step": mlp_step, "cnn_step": cnn_step,
    "lstm_step": lstm_step, "transformer_step": transformer_step,
}

# The workloads' targets (ratio ember/torch), from the speed issue.
TARGETS = {"seed_loop": 0.25, "seed_loop2": 0.25, "small_chain": 0.5, "deep_chain": 0.5,
           "mlp_step": 1.0, "cnn_step": 1.5, "lstm_step": 1.3, "transformer_step": 1.5,
           "import_time": 0.1, "install_size": 0.1, "peak_memory": 1.0}
