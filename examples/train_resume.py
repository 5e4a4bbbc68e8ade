"""Train a small MLP, checkpoint it every epoch, and resume exactly after being killed.

    python examples/train_resume.py --ckpt run.pt                    # uninterrupted run
    python examples/train_resume.py --ckpt run.pt --stop-after 3     # killed after epoch 3
    python examples/train_resume.py --ckpt run.pt --resume           # picks up at epoch 4

The checkpoint holds the model, optimizer and scheduler state dicts, the epoch, the
DataLoader generator's state and the global RNG state (dropout), so the resumed run sees the
same shuffles and masks as an uninterrupted one and ends with the same loss, bit for bit.
``ember.save`` writes atomically: a kill during a save leaves the previous checkpoint intact.
The code is plain PyTorch: ``import ember as torch`` is the only change.
"""

from __future__ import annotations

import argparse
import os
import signal

import ember as torch
from ember import nn
from ember.optim.lr_scheduler import StepLR
from ember.utils.data import DataLoader, TensorDataset


def make_dataset(n: int = 384, seed: int = 0) -> TensorDataset:
    """Noisy targets of a fixed random tanh-of-linear function of 8 features."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, 1, generator=g)
    y = torch.tanh(x @ w) + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="train_resume.pt", help="checkpoint path")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="kill this process (SIGKILL) right after saving epoch N")
    p.add_argument("--resume", action="store_true", help="continue from --ckpt")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    data = make_dataset(seed=args.seed)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(data, batch_size=32, shuffle=True, generator=shuffle_gen)
    loss_fn = nn.MSELoss()

    start = 0
    if args.resume:
        ckpt = torch.load(args.ckpt)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        shuffle_gen.set_state(ckpt["shuffle_rng"])
        torch.set_rng_state(ckpt["rng"])
        start = ckpt["epoch"]
        print(f"resumed after epoch {start}")

    for epoch in range(start, args.epochs):
        model.train()
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        scheduler.step()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch + 1,
                    "shuffle_rng": shuffle_gen.get_state(), "rng": torch.get_rng_state()},
                   args.ckpt)
        print(f"epoch {epoch + 1} train loss {total / len(data):.6f} "
              f"(hex {(total / len(data)).hex()})", flush=True)
        if args.stop_after is not None and epoch + 1 == args.stop_after:
            print("simulated crash: SIGKILL", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    model.eval()
    with torch.no_grad():
        x, y = data.tensors
        final = loss_fn(model(x), y).item()
    print(f"final loss {final:.6f} (hex {final.hex()})")
    return final


if __name__ == "__main__":
    main()
