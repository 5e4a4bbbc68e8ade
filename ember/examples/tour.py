"""A guided tour of ember: PyTorch's autograd tutorial, then a real network on real data.

Run it with ``python -m ember.examples.tour`` (``--help`` lists the options). Part 1 runs the
four cells of PyTorch's autograd tutorial under ``import ember as torch`` and prints what
PyTorch prints; part 2 trains a small network on scikit-learn's bundled handwritten digits
(1797 8x8 images, no download) with a DataLoader, Adam and a progress bar. Pictures of the
autograd graphs (``ember.viz``) and the loss curve go to ``./ember-tour-output/``.

Optional extras make it nicer: ``pip install "ember[examples,viz]"`` (scikit-learn, tqdm,
matplotlib, graphviz) plus the system package ``graphviz`` for the graph pictures. Without
them the tour still runs: generated digits, a plain progress line, DOT files instead of SVGs.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import ember
import ember as torch  # the tutorial's code reads exactly as it does with PyTorch
from ember.utils.data import DataLoader, TensorDataset, random_split

#: What the MLP reaches on held-out images: about 97% on scikit-learn's digits (98% after
#: 15 epochs); the generated stand-in is harder for it (about 90%, 96% after 15 epochs).
EXPECTED_ACCURACY = {"sklearn": 0.95, "generated": 0.85}
SEED = 0


# -- Part 1: PyTorch's autograd tutorial, cell by cell ---------------------------------------
# Each cell takes the library as ``torch`` (ember by default), so the very same code can be
# run under PyTorch to compare; tests/test_tour.py does exactly that.

def cell_1(torch=torch):
    """A tensor that records what is done to it, and the gradient of a sum."""
    tensor = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    print("\nTensor with requires_grad:\n", tensor)
    result = tensor * 2 + 5
    print("\nResult Tensor after Operations:\n", result)
    result_sum = result.sum()
    result_sum.backward()
    print("\nGradient of the Tensor:\n", tensor.grad)
    return result_sum, {"tensor": tensor}


def cell_2(torch=torch):
    """The product rule: d(sum(x * y))/dx = y and d/dy = x."""
    x = torch.tensor([2.0, 3.0], requires_grad=True)
    y = torch.tensor([4.0, 5.0], requires_grad=True)
    z = x * y  # Element-wise multiplication
    out = z.sum()  # Sum of all elements
    print("Tensor x:\n", x)
    print("Tensor y:\n", y)
    print("Tensor z (x * y):\n", z)
    print("Sum of z (out):\n", out)
    out.backward()  # Compute gradients
    print("Gradient of x:\n", x.grad)  # Gradient of out with respect to x
    print("Gradient of y:\n", y.grad)  # Gradient of out with respect to y
    return out, {"x": x, "y": y}


def cell_3(torch=torch):
    """One step of a linear model: nn.Linear, MSELoss, SGD."""
    nn, optim = torch.nn, torch.optim
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
    return loss, {"inputs": inputs, **dict(model.named_parameters())}


def cell_4(torch=torch):
    """A module subclass trained for ten epochs."""
    nn, optim = torch.nn, torch.optim

    class SimpleNet(nn.Module):
        def __init__(self):
            super(SimpleNet, self).__init__()  # noqa: UP008 - the tutorial's spelling
            self.fc = nn.Linear(1, 1)

        def forward(self, x):
            return self.fc(x)

    net = SimpleNet()
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
    return loss, dict(net.named_parameters())


CELLS = [
    (cell_1, "Cell 1: a tensor that records its operations; backward() through a sum"),
    (cell_2, "Cell 2: gradients of a product"),
    (cell_3, "Cell 3: nn.Linear + MSELoss + SGD, one step"),
    (cell_4, "Cell 4: a SimpleNet module trained for 10 epochs"),
]


def banner(text: str) -> None:
    print(f"\n=== {text} ===")


def run_tutorial(out: Path, seed: int = SEED) -> list[str]:
    """Run the four cells; save a picture of each cell's autograd graph. Returns notes on
    what was written."""
    from ember.viz import GraphvizNotFound, make_dot

    written, missing = [], None
    for i, (cell, title) in enumerate(CELLS, 1):
        banner(title)
        if i == 3:
            torch.manual_seed(seed)  # cells 3-4 draw initial weights: same seed, same numbers
        root, params = cell()
        graph = make_dot(root, params=params)
        written.append(str(graph.save(out / f"cell{i}_graph.dot")))
        try:
            written.append(str(graph.render(out / f"cell{i}_graph", format="svg")))
        except GraphvizNotFound as exc:
            missing = str(exc)
    if missing:
        written.append(f"(graph pictures as DOT text only: {missing})")
    return written


# -- Part 2: a network trained on handwritten digits -----------------------------------------

# 3x5 glyphs of the ten digits, for the generated stand-in when scikit-learn is absent.
_GLYPHS = ["111101101101111", "010110010010111", "111001111100111", "111001111001111",
           "101101111001001", "111100111001111", "111100111101111", "111001010010010",
           "111101111101111", "111101111001111"]


def synthetic_digits(n: int = 1797, seed: int = SEED) -> tuple[list, list]:
    """Digits drawn from a 3x5 font at random sizes and offsets, with uneven ink and noise:
    8x8 images with values in [0, 16], like scikit-learn's."""
    rng = random.Random(seed)
    images, labels = [], []
    for k in range(n):
        digit = k % 10
        glyph = _GLYPHS[digit]
        h, w = rng.randint(6, 8), rng.randint(4, 6)
        # Roughly centred, like the scans: jitter of at most one pixel.
        top = min(max((8 - h) // 2 + rng.randint(-1, 1), 0), 8 - h)
        left = min(max((8 - w) // 2 + rng.randint(-1, 1), 0), 8 - w)
        ink = rng.uniform(10.0, 16.0)
        img = [[rng.uniform(0.0, 2.0) for _ in range(8)] for _ in range(8)]
        for r in range(h):
            for c in range(w):
                if glyph[(r * 5 // h) * 3 + c * 3 // w] == "1":
                    img[top + r][left + c] = min(16.0, ink + rng.uniform(-2.0, 2.0))
        images.append(img)
        labels.append(digit)
    return images, labels


def load_digits(seed: int = SEED) -> tuple[torch.Tensor, torch.Tensor, str, str]:
    """The 8x8 digits: images (N, 1, 8, 8) scaled to [0, 1], labels (N,), which data set
    ('sklearn' or 'generated') and a description."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        images, labels = synthetic_digits(seed=seed)
        x = torch.tensor(images, dtype=torch.float32)
        kind = "generated"
        source = ("GENERATED digits (scikit-learn is not installed, so a 3x5 font stands in "
                  "for real handwriting; `pip install scikit-learn` for the real data set)")
    else:
        bunch = sk_load_digits()
        x = torch.from_numpy(bunch.images).float()
        labels = bunch.target
        kind = "sklearn"
        source = "scikit-learn's handwritten digits (1797 8x8 scans, bundled, no download)"
    return (x / 16.0).unsqueeze(1), torch.as_tensor(labels, dtype=torch.int64), kind, source


def make_model(kind: str = "mlp") -> torch.nn.Module:
    """``mlp``: 64 pixels -> 128 -> 64 -> 10 classes. ``cnn``: two 3x3 conv + max-pool
    stages, then a linear classifier (fewer weights, but slower on NumPy)."""
    nn = torch.nn
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64),
                         nn.ReLU(), nn.Linear(64, 10))


class _PlainBar:
    """The progress display when tqdm is absent: one line per epoch."""

    def __init__(self, total: int, desc: str) -> None:
        self.desc, self.total, self.seen, self.start = desc, total, 0, time.perf_counter()
        self.postfix = ""

    def update(self, n: int) -> None:
        self.seen += n

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        rate = self.seen / max(time.perf_counter() - self.start, 1e-9)
        print(f"{self.desc}: {self.seen}/{self.total} samples, {self.postfix}, "
              f"{rate:,.0f} samples/s", flush=True)


def progress(total: int, desc: str):
    """A tqdm bar on a terminal (when tqdm is installed), else one plain line per epoch."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainBar(total, desc)
    if not sys.stdout.isatty():  # a log file or a pipe: redrawn bars would be noise
        return _PlainBar(total, desc)
    return tqdm(total=total, desc=desc, unit="img", leave=True, file=sys.stdout,
                dynamic_ncols=True)


def evaluate(model: torch.nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += labels.numel()
    model.train()
    return correct / total


def train_digits(out: Path, epochs: int, seed: int = SEED,
                 kind: str = "mlp") -> tuple[list[str], float]:
    """Train the network; returns notes on files written and the test accuracy."""
    torch.manual_seed(seed)
    images, labels, data_kind, source = load_digits(seed)
    print(f"Data: {source}")
    dataset = TensorDataset(images, labels)
    n_test = len(dataset) // 5
    train_set, test_set = random_split(dataset, [len(dataset) - n_test, n_test])
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    model = make_model(kind)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"Model: {n_params:,} parameters\n{model}")
    print(f"Training on {len(train_set)} images, testing on {len(test_set)}; "
          f"Adam, lr=3e-3, {epochs} epochs, batches of 32")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = torch.nn.CrossEntropyLoss()

    losses, start = [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        bar = progress(len(train_set), f"epoch {epoch:2d}/{epochs}")
        running = seen = 0.0
        for batch, target in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(batch), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            running += loss.item() * len(target)
            seen += len(target)
            bar.update(len(target))
            bar.set_postfix_str(f"loss {running / seen:.4f}")
        bar.close()
    elapsed = time.perf_counter() - start
    accuracy = evaluate(model, test_loader)
    expected = EXPECTED_ACCURACY[data_kind]
    verdict = "as expected" if accuracy > expected else "LOWER than expected"
    print(f"\nTest accuracy: {accuracy:.2%} on {len(test_set)} held-out images "
          f"(expected > {expected:.0%}: {verdict}); trained in {elapsed:.1f}s "
          f"({epochs * len(train_set) / elapsed:,.0f} images/s)")
    return write_loss_curve(out, losses, len(train_loader)), accuracy


def compiled_speedup(kind: str = "mlp", seed: int = SEED, steps: int = 40) -> bool:
    """Part 3: the digits training step (zero_grad, forward, loss, backward, Adam step) under
    ``torch.compile``, timed against the same step run eagerly on the same batch. Returns
    whether both gave the same losses, bit for bit."""
    images, labels, _, _ = load_digits(seed)
    x, y = images[:32], labels[:32]

    def run(compiled: bool) -> tuple[list[float], float]:
        torch.manual_seed(seed)
        model = make_model(kind)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

        def step(x, y):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

        if compiled:
            step = torch.compile(step)  # the first call traces; later calls replay
        losses = [step(x, y).item() for _ in range(3)]
        start = time.perf_counter()
        for _ in range(steps):
            losses.append(step(x, y).item())
        return losses, (time.perf_counter() - start) / steps

    eager_losses, eager_s = run(False)
    compiled_losses, compiled_s = run(True)
    same = eager_losses == compiled_losses
    print(f"One training step on a batch of 32, {steps} steps each way: eager "
          f"{eager_s * 1e3:.2f} ms, torch.compile(step) {compiled_s * 1e3:.2f} ms "
          f"({eager_s / compiled_s:.1f}x faster); the same losses, bit for bit: "
          f"{'yes' if same else 'NO'}")
    return same


def write_loss_curve(out: Path, losses: list[float], steps_per_epoch: int) -> list[str]:
    csv = out / "loss.csv"
    csv.write_text("step,loss\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(losses, 1)))
    written = [str(csv)]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        written.append("(no loss plot: `pip install matplotlib` to draw one)")
        return written
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses, lw=0.8, alpha=0.5, label="batch")
    k = max(1, steps_per_epoch)
    if len(losses) >= k:
        smooth = [sum(losses[i - k:i]) / k for i in range(k, len(losses) + 1)]
        ax.plot(range(k, len(losses) + 1), smooth, lw=2, label="mean over one epoch")
    ax.set(xlabel="step", ylabel="cross-entropy loss", title="ember: digits classifier",
           yscale="log" if min(losses) > 0 and max(losses) / min(losses) > 20 else "linear")
    ax.legend()
    fig.tight_layout()
    png = out / "loss.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    written.append(str(png))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.tour",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("ember-tour-output"),
                        help="folder for the graph pictures and the loss plot "
                             "(default: ./ember-tour-output)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="digits training epochs (default: 15, or 5 with --quick)")
    parser.add_argument("--quick", action="store_true", help="train 5 epochs (for CI)")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                        help="the digits network (cnn: about 4 s an epoch on 2 cores)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed for cells 3-4 and part 2")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else 5 if args.quick else 15
    if epochs < 1:
        parser.error("--epochs must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"ember {ember.__version__}: PyTorch's autograd and training stack on NumPy.")
    print("\nPart 1: PyTorch's autograd tutorial, run by `import ember as torch`")
    written = run_tutorial(args.out, args.seed)
    banner("Part 2: a network for handwritten digits")
    notes, accuracy = train_digits(args.out, epochs, args.seed, args.model)
    written += notes
    banner("Part 3: the same training step under torch.compile (ember.compile)")
    same = compiled_speedup(args.model, args.seed)
    print(f"\nWrote to {args.out.resolve()}:")
    for item in written:
        print(f"  {item}")
    print("\nNext: docs/index.md, and docs/migrating.md to port a PyTorch script.")
    return 0 if math.isfinite(accuracy) and same else 1


if __name__ == "__main__":
    sys.exit(main())
