"""Everyday tensor idioms from tutorials and forum answers, each group one small program."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

import numpy as np

from .harness import run_both


def conversions(torch):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = torch.from_numpy(a)
    a[0, 0] = 100.0                        # shares memory
    t2 = torch.as_tensor(a, dtype=torch.float64)
    n = t.numpy()
    t.add_(1)
    x = torch.tensor([[1.5, 2.5], [3.5, -4.5]], requires_grad=True).to(device)
    y = (x * 2).sum()
    return {"shared": n[0, 0].item(), "t": t, "t2": t2, "tolist": x.tolist(),
            "item": y.item(), "float": float(y), "int": int(torch.tensor(7)),
            "detach_np": x.detach().cpu().numpy(), "device": str(x.device),
            "type": device.type, "is_cuda": x.is_cuda, "bool": bool(torch.tensor(True)),
            "idx": [1, 2, 3][torch.tensor(1)], "len": len(torch.zeros(4, 2)),
            "iter": [v.item() for v in torch.arange(3)], "np_dtype": str(n.dtype),
            "scalar_np": np.float32(2.0) * torch.ones(2),
            "arr": np.asarray(torch.ones(2, 2) * 3), "ndim": x.ndim, "dim": x.dim(),
            "size": list(x.size()), "size1": x.size(1), "shape0": x.shape[0],
            "numel": x.numel(), "nelement": x.nelement(), "elt": x.element_size()}


def test_conversions():
    run_both(conversions)


def formatting(torch):
    nn = torch.nn
    loss = torch.tensor(0.123456789)
    acc = torch.tensor(0.875)
    t = torch.tensor([1.0, 2.5])
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(p=0.5), nn.BatchNorm1d(3),
                          nn.Sequential(nn.Conv2d(1, 2, kernel_size=(3, 3), stride=2),
                                        nn.MaxPool2d(2)), nn.LSTM(3, 4, batch_first=True),
                          nn.Embedding(10, 3, padding_idx=0), nn.LayerNorm((3,)))
    return [f"{loss:.4f}", f"{loss.item():.4f}", f"{acc:.2%}", f"{loss}", str(t), repr(t),
            f"Epoch [{1}/{10}], Loss: {loss.item():.4f}", "{:.3f}".format(loss),
            f"{torch.tensor(3)}", f"{torch.tensor(3):d}", f"{torch.tensor([1, 2])}",
            str(torch.zeros(2, 3)), str(torch.tensor([[1e-8, 1.0], [100.0, 5.5]])),
            str(torch.arange(12).view(3, 4)), str(torch.tensor([True, False])),
            str(torch.ones(2, requires_grad=True) * 2), str(model),
            str(torch.randn(3, 2) > 0), str(torch.tensor([])), str(torch.tensor(2.0) / 3),
            str(torch.linspace(0, 1, 1500)), str(torch.tensor([float("nan"), float("inf")]))]


def test_formatting():
    run_both(formatting)


def indexing_and_selection(torch):
    torch.manual_seed(1)
    logits = torch.randn(6, 5)
    y = torch.tensor([0, 4, 2, 2, 1, 3])
    pred = logits.max(1)[1]
    vals, idx = torch.max(logits, dim=1)
    top5 = torch.topk(logits, k=3, dim=1)
    _, pred_t = logits.topk(2, 1, True, True)
    pred_t = pred_t.t()
    correct = pred_t.eq(y.view(1, -1).expand_as(pred_t))
    correct_k = correct[:1].reshape(-1).float().sum(0, keepdim=True)
    x = logits.clone()
    x.masked_fill_(x < 0, 0.0)
    mask = torch.zeros(6, 5).scatter_(1, y.unsqueeze(1), 1.0)
    one_hot = torch.nn.functional.one_hot(y, num_classes=5)
    where = torch.where(logits > 0, logits, torch.zeros_like(logits))
    where1 = torch.where(y > 1)
    nz = torch.nonzero(y == 2).squeeze()
    gathered = logits.gather(1, y.unsqueeze(1)).squeeze(1)
    sorted_vals, sorted_idx = torch.sort(logits[:, 0], descending=True)
    am = torch.argmax(logits)
    am1 = torch.argmax(logits, dim=-1, keepdim=True)
    eye_pick = torch.eye(5)[y]
    logits[torch.arange(6), y] += 10.0
    cumsum = torch.cumsum(y, 0)
    uniq, counts = torch.unique(y, return_counts=True)
    bincount = torch.bincount(y, minlength=6)
    return {"pred": pred, "vals": vals, "idx": idx, "top": top5.values, "topi": top5.indices,
            "correct_k": correct_k.mul_(100.0 / 6).item(), "masked": x, "scatter": mask,
            "one_hot": one_hot, "where": where, "where1": list(where1), "nz": nz,
            "gathered": gathered, "sorted": [sorted_vals, sorted_idx], "am": am.item(),
            "am1": am1, "eye": eye_pick, "boosted": logits, "cumsum": cumsum,
            "uniq": [uniq, counts], "bincount": bincount,
            "acc": (pred == y).float().mean().item(), "sum_eq": (pred == y).sum().item(),
            "any": bool((y > 3).any()), "all": (y >= 0).all().item(),
            "clamp": logits.clamp(min=-1, max=1), "tril_idx": torch.tril_indices(3, 3),
            "q90": torch.quantile(logits, 0.9, dim=1),
            "iqr": logits.flatten().quantile(torch.tensor([0.25, 0.75])).diff()}


def test_indexing_and_selection():
    run_both(indexing_and_selection)


def shapes_and_broadcasting(torch):
    torch.manual_seed(3)
    x = torch.randn(4, 3)
    pos = torch.arange(0, 10).unsqueeze(0)
    pos_f = torch.arange(0, 8, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, 6, 2).float() * (-np.log(10000.0) / 6))
    pe = torch.zeros(8, 6)
    pe[:, 0::2] = torch.sin(pos_f * div_term)
    pe[:, 1::2] = torch.cos(pos_f * div_term)
    cat = torch.cat([x, x * 2], dim=0)
    cat1 = torch.cat((x, x), 1)
    st = torch.stack([x, x + 1], dim=1)
    exp = x[:, None, :].expand(-1, 2, -1)
    rep = x.repeat(2, 1, 3)
    rep_i = torch.repeat_interleave(torch.tensor([1, 2]), 2)
    ein = torch.einsum("ij,kj->ik", x, x)
    batched = torch.einsum("bij,bjk->bik", st, st.transpose(1, 2))
    outer = torch.einsum("i,j->ij", x[0], x[1])
    chunks = [c.shape[0] for c in x.chunk(3, dim=0)]
    split = [c.tolist() for c in torch.arange(7).split([3, 4])]
    perm = x.permute(1, 0).contiguous().view(-1)
    flat = torch.flatten(st, start_dim=1)
    unb = [u.sum().item() for u in x.unbind(1)]
    sq = torch.zeros(1, 3, 1).squeeze()
    norm = x / x.norm(dim=1, keepdim=True)
    normalized = torch.nn.functional.normalize(x, p=2, dim=1)
    std, mean = torch.std_mean(x, dim=0)
    centered = (x - x.mean(0)) / (x.std(0, unbiased=False) + 1e-5)
    mm = x @ x.T
    meshx, meshy = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="ij")
    return {"pos": pos, "pe": pe, "cat": cat, "cat1": cat1, "st": st, "exp": exp,
            "rep": rep, "rep_i": rep_i, "ein": ein, "batched": batched, "outer": outer,
            "chunks": chunks, "split": split, "perm": perm, "flat": flat, "unb": unb,
            "sq": list(sq.shape), "norm": norm, "normalized": normalized, "std": std,
            "mean": mean, "centered": centered, "mm": mm, "mesh": [meshx, meshy],
            "view_as": x.view_as(torch.empty(3, 4)), "flip": x.flip(0),
            "roll": torch.roll(x, 1, 0), "diag": torch.diag(mm),
            "contig": [x.t().is_contiguous(), x.t().contiguous().is_contiguous()]}


def test_shapes_and_broadcasting():
    run_both(shapes_and_broadcasting)


def losses_zoo(torch):
    F = torch.nn.functional
    nn = torch.nn
    torch.manual_seed(4)
    logits = torch.randn(5, 4, requires_grad=True)
    target = torch.tensor([1, 0, 3, -100, 2])
    soft = torch.softmax(torch.randn(5, 4), dim=1)
    pred = torch.randn(5, 3, requires_grad=True)
    reg_t = torch.randn(5, 3)
    seq_logits = torch.randn(2, 4, 3, requires_grad=True)
    seq_t = torch.tensor([[0, 1, 2], [3, 3, -100]])
    prob = torch.sigmoid(torch.randn(5, 3))
    bin_t = (torch.rand(5, 3) > 0.5).float()
    losses = {
        "ce_ignore": F.cross_entropy(logits, target, ignore_index=-100),
        "ce_smooth": F.cross_entropy(logits, target.clamp(min=0), label_smoothing=0.1),
        "ce_soft": F.cross_entropy(logits, soft),
        "ce_weight": nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5, 1.0]))(
            logits, target.clamp(min=0)),
        "ce_seq": F.cross_entropy(seq_logits, seq_t),
        "nll": F.nll_loss(F.log_softmax(logits, dim=1), target),
        "mse": F.mse_loss(pred, reg_t), "l1": F.l1_loss(pred, reg_t, reduction="sum"),
        "smooth_l1": F.smooth_l1_loss(pred, reg_t, beta=0.5), "huber": F.huber_loss(pred, reg_t),
        "bce": F.binary_cross_entropy(prob, bin_t),
        "bce_logits": F.binary_cross_entropy_with_logits(pred, bin_t),
        "kl": F.kl_div(F.log_softmax(logits, 1), soft, reduction="batchmean"),
        "cos": F.cosine_embedding_loss(pred, reg_t, torch.tensor([1, -1, 1, 1, -1])),
        "margin": nn.MarginRankingLoss(margin=0.2)(pred[:, 0], pred[:, 1],
                                                   torch.tensor([1, -1, 1, 1, -1])),
        "triplet": nn.TripletMarginLoss()(pred, reg_t, pred.flip(0)),
    }
    total = sum(losses.values())
    total.backward()
    return {"losses": {k: v.item() for k, v in losses.items()}, "g1": logits.grad,
            "g2": pred.grad, "g3": seq_logits.grad}


def test_losses_zoo():
    run_both(losses_zoo)
