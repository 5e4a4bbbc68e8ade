"""Sequence models: a char-level RNN/GRU/LSTM language model with detached hidden state and
gradient clipping, and small causal-attention Transformers."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

import pytest

from .harness import run_both

TEXT = ("to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
        "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles")


def char_rnn(torch, cell):
    nn = torch.nn
    chars = sorted(set(TEXT))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for ch, i in stoi.items()}
    data = torch.tensor([stoi[c] for c in TEXT], dtype=torch.long)
    vocab = len(chars)

    class CharModel(nn.Module):
        def __init__(self, vocab_size, emb=16, hidden=32, layers=2):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, emb)
            rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
            self.rnn = rnn(emb, hidden, num_layers=layers, batch_first=True, dropout=0.1)
            self.fc = nn.Linear(hidden, vocab_size)

        def forward(self, x, hidden=None):
            out, hidden = self.rnn(self.embed(x), hidden)
            return self.fc(out), hidden

    torch.manual_seed(11)
    model = CharModel(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    criterion = nn.CrossEntropyLoss()
    seq_len, batch = 12, 4
    n = (len(data) - 1) // (seq_len * batch) * seq_len * batch
    xs = data[:n].view(batch, -1)
    ys = data[1:n + 1].view(batch, -1)
    hidden = None
    losses, norms = [], []
    for epoch in range(2):
        for i in range(0, xs.size(1), seq_len):
            x, y = xs[:, i:i + seq_len], ys[:, i:i + seq_len]
            if hidden is not None:
                if isinstance(hidden, tuple):
                    hidden = tuple(h.detach() for h in hidden)
                else:
                    hidden = hidden.detach()
            logits, hidden = model(x, hidden)
            loss = criterion(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0).item())
            opt.step()
            losses.append(loss.item())
    # sampling, greedy and multinomial
    model.eval()
    with torch.no_grad():
        idx = torch.tensor([[stoi["t"]]])
        h = None
        out = []
        for _ in range(20):
            logits, h = model(idx, h)
            probs = torch.softmax(logits[:, -1, :] / 0.8, dim=-1)
            idx = torch.multinomial(probs, num_samples=1)
            out.append(itos[idx.item()])
        greedy = model(xs[:1, :8])[0].argmax(-1).squeeze(0).tolist()
    return {"losses": losses, "norms": norms, "sample": "".join(out), "greedy": greedy}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_char_rnn(cell):
    run_both(char_rnn, cell, rtol=5e-4, atol=5e-5)


def char_lstm_cell_loop(torch):
    """An LSTMCell unrolled by hand, hidden state carried in a Python loop."""
    nn = torch.nn
    torch.manual_seed(2)
    cell = nn.LSTMCell(5, 8)
    head = nn.Linear(8, 3)
    x = torch.randn(7, 4, 5)
    target = torch.randint(0, 3, (4,))
    h = torch.zeros(4, 8)
    c = torch.zeros(4, 8)
    outs = []
    for t in range(x.size(0)):
        h, c = cell(x[t], (h, c))
        outs.append(h)
    stacked = torch.stack(outs, dim=0)
    loss = nn.functional.cross_entropy(head(stacked.mean(0)), target)
    loss.backward()
    return {"loss": loss.item(), "w_ih": cell.weight_ih.grad, "b": cell.bias_hh.grad,
            "shape": list(stacked.shape)}


def test_lstm_cell_loop():
    run_both(char_lstm_cell_loop)


def tiny_gpt(torch):
    """Karpathy-style decoder: heads with a tril mask, masked_fill(-inf), softmax."""
    nn = torch.nn
    F = torch.nn.functional
    block_size, n_embd, n_head, vocab = 8, 16, 2, 20

    class Head(nn.Module):
        def __init__(self, head_size):
            super().__init__()
            self.key = nn.Linear(n_embd, head_size, bias=False)
            self.query = nn.Linear(n_embd, head_size, bias=False)
            self.value = nn.Linear(n_embd, head_size, bias=False)
            self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))
            self.dropout = nn.Dropout(0.1)

        def forward(self, x):
            B, T, C = x.shape
            k = self.key(x)
            q = self.query(x)
            wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
            wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
            wei = F.softmax(wei, dim=-1)
            wei = self.dropout(wei)
            return wei @ self.value(x)

    class MultiHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleList([Head(n_embd // n_head) for _ in range(n_head)])
            self.proj = nn.Linear(n_embd, n_embd)

        def forward(self, x):
            return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.sa = MultiHead()
            self.ffwd = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                      nn.Linear(4 * n_embd, n_embd), nn.Dropout(0.1))
            self.ln1 = nn.LayerNorm(n_embd)
            self.ln2 = nn.LayerNorm(n_embd)

        def forward(self, x):
            x = x + self.sa(self.ln1(x))
            return x + self.ffwd(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, n_embd)
            self.pos = nn.Embedding(block_size, n_embd)
            self.blocks = nn.Sequential(*[Block() for _ in range(2)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab)
            self.apply(self._init_weights)

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            B, T = idx.shape
            x = self.tok(idx) + self.pos(torch.arange(T))
            logits = self.lm_head(self.ln_f(self.blocks(x)))
            if targets is None:
                return logits, None
            B, T, C = logits.shape
            loss = F.cross_entropy(logits.view(B * T, C), targets.view(B * T))
            return logits, loss

        @torch.no_grad()
        def generate(self, idx, max_new_tokens):
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -block_size:])
                probs = F.softmax(logits[:, -1, :], dim=-1)
                idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
            return idx

    torch.manual_seed(1337)
    data = torch.randint(0, vocab, (200,))

    def get_batch():
        ix = torch.randint(len(data) - block_size, (4,))
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
        return x, y

    model = GPT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for it in range(8):
        xb, yb = get_batch()
        logits, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    gen = model.generate(torch.zeros((1, 1), dtype=torch.long), 10)[0].tolist()
    return {"losses": losses, "gen": gen,
            "params": sum(p.numel() for p in model.parameters()),
            "printed": f"{sum(p.numel() for p in model.parameters()) / 1e6:.4f} M parameters"}


def test_tiny_gpt():
    run_both(tiny_gpt, rtol=3e-4, atol=3e-5)


def attention_masks(torch):
    """Masks built the usual ways, fed to hand-written attention, MHA and SDPA."""
    nn = torch.nn
    F = torch.nn.functional
    torch.manual_seed(5)
    n, d = 6, 8
    causal = torch.triu(torch.ones(n, n), diagonal=1).bool()
    x = torch.randn(2, n, d, requires_grad=True)
    scores = torch.einsum("bid,bjd->bij", x, x) / d ** 0.5
    scores = scores.masked_fill(causal, float("-inf"))
    attn = F.softmax(scores, dim=-1)
    out_manual = torch.bmm(attn, x)
    sdpa = F.scaled_dot_product_attention(x, x, x, is_causal=True)
    sdpa_mask = F.scaled_dot_product_attention(x, x, x, attn_mask=~causal)
    mha = nn.MultiheadAttention(d, 2, batch_first=True)
    pad = torch.tensor([[False] * n, [False] * (n - 2) + [True] * 2])
    out_mha, w_mha = mha(x, x, x, attn_mask=causal, key_padding_mask=pad)
    float_mask = nn.Transformer.generate_square_subsequent_mask(n)
    layer = nn.TransformerEncoderLayer(d, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                       norm_first=True)
    enc = layer(x, src_mask=float_mask, is_causal=True)
    total = (out_manual.sum() + sdpa.pow(2).sum() + sdpa_mask.mean() + out_mha.sum()
             + enc.tanh().sum())
    total.backward()
    return {"manual": out_manual, "sdpa_equal": torch.allclose(out_manual, sdpa, atol=1e-6),
            "sdpa_mask": sdpa_mask, "mha": out_mha, "w": w_mha, "enc": enc, "grad": x.grad,
            "mask": float_mask, "mha_grad": mha.in_proj_weight.grad}


def test_attention_masks():
    run_both(attention_masks)


def seq2seq_transformer(torch, dropout=0.1):
    nn = torch.nn
    torch.manual_seed(9)
    model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=32, dropout=dropout, batch_first=True)
    src_emb = nn.Embedding(12, 16, padding_idx=0)
    head = nn.Linear(16, 12)
    params = list(model.parameters()) + list(src_emb.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    src = torch.randint(1, 12, (3, 7))
    src[0, -2:] = 0
    tgt = torch.randint(1, 12, (3, 5))
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    tgt_mask = model.generate_square_subsequent_mask(tgt_in.size(1))
    src_pad = src == 0
    crit = nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    losses = []
    for _ in range(4):
        out = model(src_emb(src), src_emb(tgt_in), tgt_mask=tgt_mask,
                    src_key_padding_mask=src_pad, memory_key_padding_mask=src_pad)
        loss = crit(head(out).reshape(-1, 12), tgt_out.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "pad_grad": src_emb.weight.grad[0]}


def test_seq2seq_transformer():
    run_both(seq2seq_transformer, rtol=3e-4, atol=3e-5)


def test_seq2seq_transformer_without_dropout():
    run_both(seq2seq_transformer, dropout=0.0, rtol=3e-4, atol=3e-5)


def random_on_transposed_views(torch):
    """Dropout and the *_like samplers on a non-contiguous tensor, then the next draw."""
    F = torch.nn.functional
    x = torch.ones(5, 3, 4).transpose(0, 1)
    return {"dropout": F.dropout(x, 0.5), "rand_like": torch.rand_like(x),
            "randn_like": torch.randn_like(x), "bernoulli_": x.clone().bernoulli_(0.3),
            "uniform_": torch.ones(4, 5).t().uniform_(), "next": torch.rand(3)}


def test_random_on_transposed_views():
    run_both(random_on_transposed_views)
