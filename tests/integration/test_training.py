"""Training-loop machinery: custom autograd Functions, init loops, checkpoints, schedulers,
gradient accumulation, freezing and grad-mode switches."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

import os

from .harness import run_both


def custom_function(torch):
    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class ScaleClamp(torch.autograd.Function):
        """Two inputs, a non-tensor argument, a non-differentiable second output."""

        @staticmethod
        def forward(ctx, x, w, limit):
            ctx.limit = limit
            out = (x * w).clamp(-limit, limit)
            mask = (x * w).abs() <= limit
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(x, w, mask)
            return out, mask

        @staticmethod
        def backward(ctx, grad_out, grad_mask):
            x, w, mask = ctx.saved_tensors
            g = grad_out * mask
            gx = g * w if ctx.needs_input_grad[0] else None
            gw = (g * x).sum(0) if ctx.needs_input_grad[1] else None
            return gx, gw, None

    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 50)
    y = torch.sin(x * 3)
    a = torch.full((), 0.0, requires_grad=True)
    b = torch.full((), -1.0, requires_grad=True)
    c = torch.full((), 0.0, requires_grad=True)
    d = torch.full((), 0.3, requires_grad=True)
    P3 = LegendrePolynomial3.apply
    for t in range(50):
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 5e-4 * p.grad
                p.grad = None
    relu = MyReLU.apply
    z = torch.randn(4, 3, requires_grad=True)
    relu(z * 2).sum().backward()
    xs = torch.randn(6, 3, requires_grad=True)
    w = torch.randn(3, requires_grad=True)
    out, mask = ScaleClamp.apply(xs, w, 0.5)
    out.pow(2).sum().backward()
    check = torch.autograd.gradcheck(LegendrePolynomial3.apply,
                                     (torch.randn(4, dtype=torch.double, requires_grad=True),))
    return {"coef": [a.item(), b.item(), c.item(), d.item()], "loss": loss.item(),
            "relu_grad": z.grad, "xs_grad": xs.grad, "w_grad": w.grad,
            "mask_requires_grad": mask.requires_grad, "out_grad_fn": out.grad_fn.name(),
            "repr": repr(out).split("grad_fn=")[1],
            "gradcheck": check}


def test_custom_function():
    run_both(custom_function)


def custom_function_node_type(torch):
    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Double.apply(torch.ones(2, requires_grad=True))
    return [type(y.grad_fn).__name__, isinstance(y.grad_fn, Double)]


def test_custom_function_node_type():
    run_both(custom_function_node_type)


def init_loops(torch):
    nn = torch.nn

    def build():
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                             nn.Linear(36, 10), nn.LayerNorm(10), nn.Linear(10, 3),
                             nn.Embedding(5, 3), nn.GRU(3, 4), nn.LSTM(4, 2))

    torch.manual_seed(123)
    model = build()
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=0.1, nonlinearity="leaky_relu")
            nn.init.uniform_(m.bias, -0.1, 0.1)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.trunc_normal_(m.weight, std=0.02)
        elif isinstance(m, (nn.GRU, nn.LSTM)):
            for name, param in m.named_parameters():
                if "weight_ih" in name:
                    nn.init.xavier_normal_(param.data)
                elif "weight_hh" in name:
                    nn.init.orthogonal_(param.data)
                elif "bias" in name:
                    param.data.fill_(0)

    def init_weights(m):
        if type(m) == nn.LayerNorm:
            torch.nn.init.constant_(m.weight, 0.5)
            m.bias.data.normal_(mean=0.0, std=0.1)

    model.apply(init_weights)
    gain = nn.init.calculate_gain("tanh")
    w = torch.empty(5, 4)
    nn.init.kaiming_normal_(w, mode="fan_out")
    e = torch.empty(3, 5)
    nn.init.eye_(e)
    sparse = torch.empty(6, 4)
    nn.init.sparse_(sparse, sparsity=0.5)
    return {"state": {k: v for k, v in model.state_dict().items()}, "gain": gain,
            "w": w, "eye": e, "sparse": sparse, "params": sum(p.numel() for p in model.parameters())}


def test_init_loops():
    run_both(init_loops)


def checkpoint_resume(torch, path):
    nn = torch.nn

    def make():
        m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        return m, opt, sched

    torch.manual_seed(5)
    X = torch.randn(32, 4)
    y = torch.randint(0, 2, (32,))

    def train(m, opt, sched, steps):
        out = []
        for _ in range(steps):
            loss = nn.functional.cross_entropy(m(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            out.append(loss.item())
        return out

    torch.manual_seed(6)
    model, opt, sched = make()
    straight = train(model, opt, sched, 6)
    torch.manual_seed(6)
    model, opt, sched = make()
    first = train(model, opt, sched, 3)
    torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": opt.state_dict(), "scheduler": sched.state_dict(),
                "loss": first[-1]}, path)
    model2, opt2, sched2 = make()
    checkpoint = torch.load(path, map_location=torch.device("cpu"))
    model2.load_state_dict(checkpoint["model_state_dict"])
    opt2.load_state_dict(checkpoint["optimizer_state_dict"])
    sched2.load_state_dict(checkpoint["scheduler"])
    epoch = checkpoint["epoch"]
    resumed = first + train(model2, opt2, sched2, 3)
    torch.save(model2.state_dict(), path)
    model3 = make()[0]
    missing = model3.load_state_dict(torch.load(path, weights_only=True), strict=False)
    model3.eval()
    return {"straight": straight, "resumed": resumed, "epoch": epoch,
            "loss": checkpoint["loss"], "keys": list(checkpoint["optimizer_state_dict"]),
            "missing": [list(missing.missing_keys), list(missing.unexpected_keys)],
            "lr": opt2.param_groups[0]["lr"], "out": model3(X[:3]),
            "bn_batches": model3[1].num_batches_tracked.item()}


def test_checkpoint_resume(tmp_path):
    t = run_both(checkpoint_resume, os.fspath(tmp_path / "ckpt.pt"))
    assert t["straight"] == t["resumed"]


def schedules_and_accumulation(torch):
    nn = torch.nn
    F = torch.nn.functional
    torch.manual_seed(17)
    model = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 4))
    X = torch.randn(48, 6)
    y = torch.randint(0, 4, (48,))
    y[::7] = -100
    steps, accum = 6, 3
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=steps)
    lrs, losses, moms = [], [], []
    micro = X.split(8)
    targets = y.split(8)
    for step in range(steps):
        opt.zero_grad()
        total = 0.0
        for i in range(accum):
            j = (step * accum + i) % len(micro)
            logits = model(micro[j])
            loss = F.cross_entropy(logits, targets[j], ignore_index=-100,
                                   label_smoothing=0.05) / accum
            loss.backward()
            total += loss.item()
        nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        losses.append(total)
    # the same three micro-batches in one batch give the same gradient
    model.zero_grad()
    for i in range(accum):
        (F.cross_entropy(model(micro[i]), targets[i], reduction="sum") / 24).backward()
    acc_grad = model[0].weight.grad.clone()
    model.zero_grad()
    F.cross_entropy(model(X[:24]), y[:24], reduction="sum").div(24).backward()
    other = torch.optim.Adam(model.parameters(), lr=1e-3)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(other, mode="min", factor=0.5,
                                                         patience=1)
    warm = torch.optim.lr_scheduler.LambdaLR(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0),
        lr_lambda=lambda epoch: min(1.0, (epoch + 1) / 3))
    plateau_lrs, warm_lrs = [], []
    for metric in [1.0, 0.9, 0.95, 0.96, 0.97, 0.5]:
        plateau.step(metric)
        plateau_lrs.append(other.param_groups[0]["lr"])
        warm.optimizer.step()
        warm.step()
        warm_lrs.append(warm.get_last_lr()[0])
    return {"lrs": lrs, "moms": moms, "losses": losses, "acc_grad": acc_grad,
            "full_grad": model[0].weight.grad, "plateau": plateau_lrs, "warm": warm_lrs}


def test_schedules_and_accumulation():
    run_both(schedules_and_accumulation)


def freezing_and_grad_modes(torch):
    nn = torch.nn
    torch.manual_seed(2)
    backbone = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8))
    head = nn.Linear(8, 2)
    model = nn.Sequential(backbone, head)
    for param in backbone.parameters():
        param.requires_grad = False
    backbone[2].requires_grad_(True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    x = torch.randn(10, 5)
    target = torch.randn(10, 2)
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()
    frozen_grad = backbone[0].weight.grad
    with torch.no_grad():
        a = model(x)
    with torch.set_grad_enabled(False):
        b = model(x)
    is_train = False
    with torch.set_grad_enabled(is_train):
        c = model(x)
    with torch.inference_mode():
        d = model(x)
    torch.set_grad_enabled(True)
    e = model(x)

    @torch.no_grad()
    def predict(inp):
        return model(inp).argmax(1)

    @torch.inference_mode()
    def predict2(inp):
        return model(inp).softmax(-1)

    prev = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    off = torch.is_grad_enabled()
    torch.set_grad_enabled(prev)
    return {"trainable": trainable, "frozen_grad": frozen_grad is None, "loss": loss.item(),
            "flags": [t.requires_grad for t in (a, b, c, d, e)], "pred": predict(x),
            "probs": predict2(x), "off": off, "on": torch.is_grad_enabled(),
            "grad_fn": [t.grad_fn is None for t in (a, e)], "head": head.weight}


def test_freezing_and_grad_modes():
    run_both(freezing_and_grad_modes)
