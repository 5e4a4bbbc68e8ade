"""The seed tutorial's nn cells (3: one Linear + MSELoss step, 4: a SimpleNet trained for ten
epochs) run under ``import ember as torch``, checked against real torch."""

import contextlib
import io
import re
import textwrap

import numpy as np
import torch

import ember

CELL_3 = """
import torch
import torch.nn as nn
import torch.optim as optim
model = nn.Linear(1, 1)
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr=0.01)
inputs = torch.tensor([[1.0]], requires_grad=True)
target = torch.tensor([[2.0]])
predicted = model(inputs)
loss = criterion(predicted, target)
loss.backward()
print(model.weight.grad)
print(model.bias.grad)
optimizer.step()
"""

CELL_4 = """
import torch
import torch.nn as nn
import torch.optim as optim

class SimpleNet(nn.Module):
    def __init__(self):
        super(SimpleNet, self).__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, x):
        return self.fc(x)

net = SimpleNet()
if START is not None:
    net.load_state_dict(START)
criterion = nn.MSELoss()
optimizer = optim.SGD(net.parameters(), lr=0.01)
inputs = torch.tensor([[1.0], [2.0], [3.0]])
targets = torch.tensor([[2.0], [4.0], [6.0]])
for epoch in range(10):
    optimizer.zero_grad()
    outputs = net(inputs)
    loss = criterion(outputs, targets)
    loss.backward()
    optimizer.step()
    print(f'Epoch {epoch+1}, Loss: {loss.item()}')
"""


def run_cell(code: str, module, **env) -> tuple[str, dict]:
    """Run ``code`` with ``import torch`` bound to ``module``; return stdout and globals."""
    import sys
    out = io.StringIO()
    saved = {k: sys.modules.get(k) for k in ("torch", "torch.nn", "torch.optim")}
    sys.modules.update({"torch": module, "torch.nn": module.nn, "torch.optim": module.optim})
    scope = {"__name__": "__seed__", **env}
    try:
        with contextlib.redirect_stdout(out):
            exec(textwrap.dedent(code), scope)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return out.getvalue(), scope


def test_cell_3_format_and_gradients():
    text, scope = run_cell(CELL_3, ember)
    m = re.fullmatch(r"tensor\(\[\[(-?\d+\.\d{4})\]\]\)\ntensor\(\[(-?\d+\.\d{4})\]\)\n", text)
    assert m, text
    model, inputs, target = scope["model"], scope["inputs"], scope["target"]
    residual = 2 * (scope["predicted"].item() - target.item())
    # d/dw (w x + b - t)**2 = 2 (pred - t) x, d/db = 2 (pred - t); the step then moved them.
    assert float(m.group(1)) == round(residual * inputs.item(), 4)
    assert float(m.group(2)) == round(residual, 4)
    assert np.isclose(model.weight.grad.item(), residual * inputs.item(), rtol=1e-6)
    assert np.isclose(model.bias.grad.item(), residual, rtol=1e-6)


def test_cell_3_matches_torch_under_the_same_seed():
    for seed in (0, 1, 7):
        ember.manual_seed(seed)
        mine, escope = run_cell(CELL_3, ember)
        torch.manual_seed(seed)
        theirs, tscope = run_cell(CELL_3, torch)
        assert mine == theirs
        # After optimizer.step() the parameters agree too.
        assert np.allclose(escope["model"].weight.detach().numpy(),
                           tscope["model"].weight.detach().numpy(), rtol=1e-6)


def _losses(text: str) -> list[float]:
    lines = text.splitlines()
    assert [ln.split(",")[0] for ln in lines] == [f"Epoch {i}" for i in range(1, 11)]
    return [float(ln.split("Loss: ")[1]) for ln in lines]


def test_cell_4_losses_match_torch_from_the_same_weights():
    for seed in (0, 3):
        torch.manual_seed(seed)
        start = torch.nn.Linear(1, 1).state_dict()
        theirs, tscope = run_cell(CELL_4, torch, START={"fc." + k: v for k, v in start.items()})
        mine, escope = run_cell(CELL_4, ember, START={
            "fc." + k: ember.tensor(v.numpy()) for k, v in start.items()})
        t_losses, e_losses = _losses(theirs), _losses(mine)
        assert np.allclose(e_losses, t_losses, rtol=1e-6, atol=0)
        assert e_losses[-1] < e_losses[0]
        assert repr(escope["net"]) == repr(tscope["net"])
        assert str(escope["net"]) == ("SimpleNet(\n  (fc): Linear(in_features=1, out_features=1, "
                                      "bias=True)\n)")


def test_cell_4_prints_like_torch_under_the_same_seed():
    ember.manual_seed(0)
    mine, _ = run_cell(CELL_4, ember, START=None)
    torch.manual_seed(0)
    theirs, _ = run_cell(CELL_4, torch, START=None)
    assert np.allclose(_losses(mine), _losses(theirs), rtol=1e-6, atol=0)
    loss_values = _losses(mine)
    assert all(b < a for a, b in zip(loss_values, loss_values[1:]))
