"""Tutorial-style regression with raw tensors: manual ``.data``/``no_grad`` parameter updates,
then the same fit with ``nn`` modules."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

import math

from .harness import run_both


def logistic_regression_raw(torch):
    torch.manual_seed(42)
    X = torch.randn(128, 4)
    true_w = torch.tensor([[1.5], [-2.0], [0.5], [3.0]])
    y = ((X @ true_w + 0.1 * torch.randn(128, 1)) > 0).float()
    w = torch.zeros(4, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr = 0.5
    losses = []
    for epoch in range(30):
        z = X.mm(w) + b
        p = 1 / (1 + torch.exp(-z))
        loss = -(y * torch.log(p + 1e-8) + (1 - y) * torch.log(1 - p + 1e-8)).mean()
        loss.backward()
        w.data -= lr * w.grad
        b.data -= lr * b.grad.data
        w.grad.zero_()
        b.grad.data.zero_()
        losses.append(loss.item())
    preds = (torch.sigmoid(X @ w + b) >= 0.5).float()
    acc = (preds == y).float().mean().item()
    return {"losses": losses, "w": w, "b": b.item(), "acc": acc,
            "grad_after_zero": w.grad.abs().sum().item(), "is_leaf": w.is_leaf,
            "requires_grad": w.requires_grad}


def test_logistic_regression_raw():
    run_both(logistic_regression_raw)


def polynomial_no_grad(torch):
    dtype = torch.float
    device = torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    b = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    c = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    d = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    learning_rate = 1e-6
    history = []
    for t in range(300):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            history.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return {"history": history, "coef": [a.item(), b.item(), c.item(), d.item()],
            "grad": a.grad is None, "line": f"y = {a.item():.2f} + {b.item():.2f} x"}


def test_polynomial_no_grad():
    run_both(polynomial_no_grad)


def polynomial_nn(torch):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-6
    history = []
    for t in range(200):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 50 == 49:
            history.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    linear_layer = model[0]
    # the same fit with an optimizer
    model2 = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    opt = torch.optim.RMSprop(model2.parameters(), lr=1e-3)
    for t in range(100):
        loss2 = loss_fn(model2(xx), y)
        opt.zero_grad()
        loss2.backward()
        opt.step()
    return {"xx_dtype": str(xx.dtype).split(".")[1], "history": history,
            "bias": linear_layer.bias.item(), "weight": linear_layer.weight[:, 0].item(),
            "w": linear_layer.weight.tolist(), "loss2": loss2.item(), "repr": repr(model)}


def test_polynomial_nn():
    run_both(polynomial_nn)


def linear_regression_dataloader(torch):
    from_module = torch.utils.data
    torch.manual_seed(1)
    X = torch.rand(100, 1) * 10
    y = 2 * X + 1 + torch.randn(100, 1) * 0.5
    ds = from_module.TensorDataset(X, y)
    train_ds, val_ds = from_module.random_split(ds, [80, 20])
    loader = from_module.DataLoader(train_ds, batch_size=16, shuffle=True)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = torch.nn.MSELoss()
    epoch_losses = []
    for epoch in range(5):
        running = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()
            running += loss.item() * xb.size(0)
        epoch_losses.append(running / len(loader.dataset))
    model.eval()
    with torch.no_grad():
        vx = torch.stack([val_ds[i][0] for i in range(len(val_ds))])
        vy = torch.stack([val_ds[i][1] for i in range(len(val_ds))])
        val = crit(model(vx), vy).item()
    return {"epochs": epoch_losses, "val": val, "indices": list(train_ds.indices[:10]),
            "n_batches": len(loader), "params": [p.tolist() for p in model.parameters()]}


def test_linear_regression_dataloader():
    run_both(linear_regression_dataloader)
