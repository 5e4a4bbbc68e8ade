"""Recurrent layers as one graph node per layer and direction.

``RecurrentLayer`` runs a whole sequence: one GEMM projects every time step's input (the
biases ride along as an extra input column), then the time loop does one ``h @ W_hh^T`` GEMM
and a few in-place ufuncs per step, keeping the gate activations. Its backward walks the
steps in reverse with one GEMM per step for ``dh``, and finishes with one GEMM each for
``dW_hh``, ``dW_ih`` (with the biases) and ``dx``. Gate layout per step is ``(gates, N, H)``
so every ufunc sees contiguous blocks; the sigmoid gates' weights are pre-scaled by 1/2 so
one ``tanh`` covers all gates (``sigmoid(z) = (1 + tanh(z/2)) / 2``).

The hand-written backward works on arrays. When the backward pass is itself recorded
(``create_graph=True``) it instead rebuilds the layer from the unfused, differentiable steps
below and differentiates that, so every order of gradient still works.
"""

from __future__ import annotations

from ..._ops._jvp import primal
from ..._ops._util import Op, Tensor, xp
from ...autograd.grad_mode import _grad_enabled

__all__: list[str] = []

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
# Gates computed as sigmoids get their pre-activation halved (see the module docstring).
_HALF = {"LSTM": (0.5, 0.5, 1.0, 0.5), "GRU": (0.5, 0.5, 1.0), "RNN_TANH": (1.0,),
         "RNN_RELU": (1.0,)}


# -- the unfused, differentiable steps (cells, and the create_graph path) ------------------
def _linear(x, w, b=None):
    from ..functional import linear
    return linear(x, w, b)


def rnn_step(xg: Tensor, h: Tensor, w_hh: Tensor, b_hh, nonlinearity: str) -> Tensor:
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh) (``xg`` holds the input part)."""
    pre = xg + _linear(h, w_hh, b_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(xg: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh, w_hr) -> tuple:
    """gates i, f, g, o;  c' = f c + i g;  h' = o tanh(c') (projected by W_hr if given)."""
    i, f, g, o = (xg + _linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = _linear(h, w_hr)
    return h, c


def gru_step(xg: Tensor, h: Tensor, w_hh: Tensor, b_hh) -> Tensor:
    """r, z = sigmoid(...);  n = tanh(x_n + r (W_hn h + b_hn));  h' = (1 - z) n + z h."""
    xr, xz, xn = xg.chunk(3, -1)
    hr, hz, hn = _linear(h, w_hh, b_hh).chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (h - n)


def unfused_layer(mode: str, x, w_ih, w_hh, b_ih, b_hh, w_hr, h, c, mask, reverse: bool):
    """The layer as a graph of per-step ops: ``(out, h_n, c_n)`` (``c_n`` None but for LSTM)."""
    import ember
    xg = _linear(x, w_ih, b_ih)                      # every step's input part at once
    T = x.shape[0]
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if mode == "LSTM":
            h_new, c_new = lstm_step(xg[t], h, c, w_hh, b_hh, w_hr)
        elif mode == "GRU":
            h_new, c_new = gru_step(xg[t], h, w_hh, b_hh), None
        else:
            h_new = rnn_step(xg[t], h, w_hh, b_hh, "tanh" if mode == "RNN_TANH" else "relu")
            c_new = None
        if mask is not None:                         # packed input: freeze finished rows
            m = mask[t]
            h = ember.where(m, h_new, h)
            if c_new is not None:
                c = ember.where(m, c_new, c)
            outs[t] = h_new * m
        else:
            h, c = h_new, c_new
            outs[t] = h
    return ember.stack(outs), h, c


# -- the fused layer -------------------------------------------------------------------------
def _arr(t):
    return None if t is None else t._data


def _proj_weights(mode, w_ih, b_ih, b_hh, k, H):
    """``(k, I [+1], H)``: W_ih^T per gate, scaled, with the bias row appended if any."""
    I = w_ih.shape[1]
    s = xp.asarray(_HALF[mode], dtype=w_ih.dtype)[:, None, None]
    wa = xp.empty((k, I + (b_ih is not None), H), dtype=w_ih.dtype)
    xp.multiply(w_ih.reshape(k, H, I).transpose(0, 2, 1), s, out=wa[:, :I])
    if b_ih is not None:
        b = b_ih if mode == "GRU" or b_hh is None else b_ih + b_hh
        xp.multiply(b.reshape(k, 1, H), s, out=wa[:, I:])
    return wa


def _inputs(X, bias: bool):
    """``x`` as ``(T, N, I [+1])`` with a column of ones when the projection has a bias."""
    if not bias:
        return xp.ascontiguousarray(X)
    T, N, I = X.shape
    xa = xp.empty((T, N, I + 1), dtype=X.dtype)
    xa[..., :I] = X
    xa[..., I] = 1
    return xa


def _sigmoid_half(z):
    """Finish ``sigmoid`` in place on ``tanh(z/2)``."""
    z *= 0.5
    z += 0.5


class RecurrentLayer(Op):
    """One layer and direction of LSTM/GRU/RNN over the whole sequence.
    d: the chain rule through every step (hand-written, in reverse time order)"""

    node_name = "MkldnnRnnLayerBackward0"

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, mask, mode, reverse):
        X = x._data[::-1] if reverse else x._data
        T, N, _ = X.shape
        k = _GATES[mode]
        wih, whh, bih, bhh = w_ih._data, w_hh._data, _arr(b_ih), _arr(b_hh)
        H, P = whh.shape[0] // k, whh.shape[1]
        dt = X.dtype
        xa = _inputs(X, bih is not None)
        Z = xp.matmul(xa[:, None], _proj_weights(mode, wih, bih, bhh, k, H))  # (T, k, N, H)
        s = xp.asarray(_HALF[mode], dtype=dt)[:, None, None]
        wh = xp.empty((k, P, H), dtype=dt)
        xp.multiply(whh.reshape(k, H, P).transpose(0, 2, 1), s, out=wh)
        Hs = xp.empty((T + 1, N, P), dtype=dt)
        Hs[0] = h0._data
        mk = None
        if mask is not None:
            mk = mask._data[::-1] if reverse else mask._data
        new = xp.empty((T, N, P), dtype=dt) if mk is not None else Hs[1:]
        ex = {}
        if mode == "LSTM":
            ex = _lstm_forward(Z, wh, _arr(w_hr), c0._data, Hs, new, mk)
        elif mode == "GRU":
            ex = _gru_forward(Z, wh, bhh, s, Hs, new, mk)
        else:
            for t in range(T):
                z = Z[t, 0]
                z += xp.matmul(Hs[t], wh[0])
                if mode == "RNN_TANH":
                    xp.tanh(z, out=new[t])
                else:
                    xp.maximum(z, 0, out=new[t])
                if mk is not None:
                    _freeze(Hs, new, mk, t)
        if mk is not None:
            new *= mk
        # LSTM's output shares the state buffer (saved, so in-place edits are caught, as in
        # PyTorch); GRU and RNN outputs may be edited in place in PyTorch: give them a copy.
        out = new[::-1].copy() if reverse else new if mode == "LSTM" else new.copy()
        h_n = Hs[T].copy()
        c_n = ex["Cs"][T].copy() if mode == "LSTM" else None
        if any(ctx.needs_input_grad):
            ctx.mode, ctx.reverse, ctx.masked = mode, reverse, mk is not None
            ctx.keys = tuple(ex)
            ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, mask,
                                  out if out.base is Hs else None, xa, Z, Hs,
                                  mk, *ex.values())
        return (out, h_n, c_n) if mode == "LSTM" else (out, h_n)

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n=None):
        if _grad_enabled.get():
            return _recorded_backward(ctx, (dout, dh_n, dc_n))
        saved = ctx.saved_tensors
        x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, mask = saved[:9]
        xa, Z, Hs, mk = (_arr(t) for t in saved[10:14])
        ex = dict(zip(ctx.keys, (_arr(t) for t in saved[14:])))
        need = ctx.needs_input_grad
        mode, reverse = ctx.mode, ctx.reverse
        G = dout._data[::-1] if reverse else dout._data
        T, k, N, H = Z.shape
        whh = w_hh._data
        if mode == "LSTM":
            dZ, dHG, dh, dc, dwhr = _lstm_backward(Z, Hs, G, dh_n._data, dc_n._data, whh,
                                                   _arr(w_hr), mk, ex, need[5])
        elif mode == "GRU":
            dZ, dHG, dh = _gru_backward(Z, Hs, G, dh_n._data, whh, mk, ex)
            dc = dwhr = None
        else:
            dZ, dh = _rnn_backward(Z, Hs, G, dh_n._data, whh, mk, ex, mode)
            dHG, dc, dwhr = dZ, None, None
        # Gradients of the gate pre-activations, (k, T, N, H): one batched GEMM per weight.
        dZ2 = dZ.reshape(k, T * N, H)
        dHG2 = dHG.reshape(k, T * N, H)
        dx = dwih = dbih = dwhh = dbhh = None
        I = x.shape[-1]
        if need[0]:
            dx = xp.matmul(dZ2, w_ih._data.reshape(k, H, I)).sum(0).reshape(T, N, I)
            if reverse:
                dx = dx[::-1]
        if need[1] or need[3] or need[4]:
            dwa = xp.matmul(dZ2.transpose(0, 2, 1), xa.reshape(T * N, -1))  # (k, H, I [+1])
            dwih = dwa[:, :, :I].reshape(k * H, I) if need[1] else None
            if b_ih is not None:
                dbih = dwa[:, :, I].reshape(k * H)
                dbhh = dHG2.sum(1).reshape(k * H) if mode == "GRU" and need[4] else dbih
        if need[2]:
            dwhh = xp.matmul(dHG2.transpose(0, 2, 1), Hs[:-1].reshape(T * N, -1))
            dwhh = dwhh.reshape(k * H, -1)
        return dx, dwih, dwhh, dbih, dbhh, dwhr, dh, dc, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _layer_jvp(inputs, tangents)


def _freeze(Hs, new, mk, t):
    """Packed input: the state moves on only where the sequence has not ended."""
    xp.copyto(Hs[t + 1], Hs[t])
    xp.copyto(Hs[t + 1], new[t], where=mk[t])


def _lstm_forward(Z, wh, whr, c0, Hs, new, mk):
    T, _, N, H = Z.shape
    dt = Z.dtype
    Cs = xp.empty((T + 1, N, H), dtype=dt)
    Cs[0] = c0
    Cn = xp.empty((T, N, H), dtype=dt) if mk is not None else Cs[1:]
    TC = xp.empty((T, N, H), dtype=dt)
    R = xp.empty((T, N, H), dtype=dt) if whr is not None else None
    whrT = xp.ascontiguousarray(whr.T) if whr is not None else None
    tmp = xp.empty((N, H), dtype=dt)
    for t in range(T):
        z = Z[t]
        z += xp.matmul(Hs[t], wh)
        xp.tanh(z, out=z)
        _sigmoid_half(z[:2])
        _sigmoid_half(z[3])
        i, f, g, o = z
        c = Cn[t]
        xp.multiply(f, Cs[t], out=c)
        xp.multiply(i, g, out=tmp)
        c += tmp
        xp.tanh(c, out=TC[t])
        if whr is None:
            xp.multiply(o, TC[t], out=new[t])
        else:
            xp.multiply(o, TC[t], out=R[t])
            xp.matmul(R[t], whrT, out=new[t])
        if mk is not None:
            _freeze(Hs, new, mk, t)
            _freeze(Cs, Cn, mk, t)
    ex = {"Cs": Cs, "TC": TC}
    if R is not None:
        ex["R"] = R
    return ex


def _lstm_backward(Z, Hs, G, dh, dcs, whh, whr, mk, ex, need_whr):
    T, _, N, H = Z.shape
    dt = Z.dtype
    Cs, TC, R = ex["Cs"], ex["TC"], ex.get("R")
    i, f, g, o = Z[:, 0], Z[:, 1], Z[:, 2], Z[:, 3]
    # Per-step multipliers, vectorised over all steps: dc -> d(i, f, g); dh -> d(o), dc.
    Mu = xp.empty((T, 3, N, H), dtype=dt)
    xp.subtract(1, i, out=Mu[:, 0])
    Mu[:, 0] *= i
    Mu[:, 0] *= g
    xp.subtract(1, f, out=Mu[:, 1])
    Mu[:, 1] *= f
    Mu[:, 1] *= Cs[:-1]
    xp.multiply(g, g, out=Mu[:, 2])
    xp.subtract(1, Mu[:, 2], out=Mu[:, 2])
    Mu[:, 2] *= i
    Mo = 1 - o
    Mo *= o
    Mo *= TC
    Q = TC * TC
    xp.subtract(1, Q, out=Q)
    Q *= o
    dZ = xp.empty((4, T, N, H), dtype=dt)
    whh = whh.reshape(4, H, -1)
    dGh = xp.empty((T,) + dh.shape, dtype=dt) if whr is not None and need_whr else None
    dh, dcs = dh.copy(), dcs.copy()
    dc = xp.empty((N, H), dtype=dt)
    for t in range(T - 1, -1, -1):
        gh = dh + G[t]
        if mk is not None:
            m = mk[t]
            gh *= m
            keep_h, keep_c = dh * ~m, dcs * ~m
            dcs *= m
        if whr is not None:
            if dGh is not None:
                dGh[t] = gh
            gh = gh @ whr
        xp.multiply(gh, Mo[t], out=dZ[3, t])
        xp.multiply(gh, Q[t], out=dc)
        dc += dcs
        xp.multiply(Mu[t], dc, out=dZ[:3, t])
        xp.multiply(dc, f[t], out=dcs)
        dh = xp.matmul(dZ[:, t], whh).sum(0)      # per-gate GEMMs beat one (N, 4H) GEMM
        if mk is not None:
            dh += keep_h
            dcs += keep_c
    dwhr = None
    if dGh is not None:
        dwhr = dGh.reshape(T * N, -1).T @ R.reshape(T * N, H)
    return dZ, dZ, dh, dcs, dwhr


def _gru_forward(Z, wh, bhh, s, Hs, new, mk):
    T, _, N, H = Z.shape
    dt = Z.dtype
    HG = xp.empty((T, 3, N, H), dtype=dt)      # W_h h + b_h per gate (r, z scaled)
    bh = (bhh.reshape(3, 1, H) * s) if bhh is not None else None
    tmp = xp.empty((N, H), dtype=dt)
    for t in range(T):
        hg = HG[t]
        xp.matmul(Hs[t], wh, out=hg)
        if bh is not None:
            hg += bh
        z = Z[t]
        rz = z[:2]
        rz += hg[:2]
        xp.tanh(rz, out=rz)
        _sigmoid_half(rz)
        r, u, n = z
        xp.multiply(r, hg[2], out=tmp)
        n += tmp
        xp.tanh(n, out=n)
        xp.subtract(Hs[t], n, out=tmp)
        tmp *= u
        xp.add(n, tmp, out=new[t])
        if mk is not None:
            _freeze(Hs, new, mk, t)
    return {"HG": HG}


def _gru_backward(Z, Hs, G, dh, whh, mk, ex):
    T, _, N, H = Z.shape
    dt = Z.dtype
    hn = ex["HG"][:, 2]
    r, u, n = Z[:, 0], Z[:, 1], Z[:, 2]
    # dh -> d(z, n) pre-activations; d(n) -> d(r) pre-activation.
    Mzn = xp.empty((T, 2, N, H), dtype=dt)
    xp.subtract(Hs[:-1], n, out=Mzn[:, 0])
    Mzn[:, 0] *= u
    Mzn[:, 0] *= 1 - u
    xp.multiply(n, n, out=Mzn[:, 1])
    xp.subtract(1, Mzn[:, 1], out=Mzn[:, 1])
    Mzn[:, 1] *= 1 - u
    Ar = 1 - r
    Ar *= r
    Ar *= hn
    dX = xp.empty((3, T, N, H), dtype=dt)
    dHG = xp.empty((3, T, N, H), dtype=dt)
    whh = whh.reshape(3, H, -1)
    dh = dh.copy()
    for t in range(T - 1, -1, -1):
        gh = dh + G[t]
        if mk is not None:
            m = mk[t]
            gh *= m
            keep = dh * ~m
        dx = dX[:, t]
        xp.multiply(Mzn[t], gh, out=dx[1:])
        xp.multiply(dx[2], Ar[t], out=dx[0])
        dHG[:2, t] = dx[:2]
        xp.multiply(dx[2], r[t], out=dHG[2, t])
        dh = xp.matmul(dHG[:, t], whh).sum(0)
        gh *= u[t]
        dh += gh
        if mk is not None:
            dh += keep
    return dX, dHG, dh


def _rnn_backward(Z, Hs, G, dh, whh, mk, ex, mode):
    T, _, N, H = Z.shape
    hnew = Hs[1:]
    if mk is not None:   # packed: the unmasked step outputs, from the pre-activations
        hnew = xp.tanh(Z[:, 0]) if mode == "RNN_TANH" else xp.maximum(Z[:, 0], 0)
    if mode == "RNN_TANH":
        D = hnew * hnew
        xp.subtract(1, D, out=D)
    else:
        D = (hnew > 0).astype(Z.dtype)
    dZ = xp.empty((1, T, N, H), dtype=Z.dtype)
    for t in range(T - 1, -1, -1):
        gh = dh + G[t]
        if mk is not None:
            m = mk[t]
            gh *= m
            keep = dh * ~m
        xp.multiply(gh, D[t], out=dZ[0, t])
        dh = dZ[0, t] @ whh
        if mk is not None:
            dh += keep
    return dZ, dh


# -- forward mode: the steps above, each carried with its tangent --------------------------
def _lin_jvp(x, tx, w, tw, tb=None):
    """The tangent of ``linear(x, w, b)``."""
    t = _linear(tx, w) + _linear(x, tw)
    return t if tb is None else t + tb


def _step_jvp(mode, xg, txg, h, th, c, tc, w_hh, tw_hh, b_hh, tb_hh, w_hr, tw_hr):
    """One step and its tangent: ``(h', th', c', tc')`` (the c's None but for LSTM)."""
    hh, thh = _linear(h, w_hh, b_hh), _lin_jvp(h, th, w_hh, tw_hh, tb_hh)
    if mode == "LSTM":
        i, f, g, o = (xg + hh).chunk(4, -1)
        ti, tf, tg, to = (txg + thh).chunk(4, -1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        ti, tf, to = ti * i * (1 - i), tf * f * (1 - f), to * o * (1 - o)
        tg = tg * (1 - g * g)
        c_new = f * c + i * g
        tc_new = tf * c + f * tc + ti * g + i * tg
        tanh_c = c_new.tanh()
        h_new = o * tanh_c
        th_new = to * tanh_c + o * (1 - tanh_c * tanh_c) * tc_new
        if w_hr is not None:
            h_new, th_new = _linear(h_new, w_hr), _lin_jvp(h_new, th_new, w_hr, tw_hr)
        return h_new, th_new, c_new, tc_new
    if mode == "GRU":
        xr, xz, xn = xg.chunk(3, -1)
        txr, txz, txn = txg.chunk(3, -1)
        hr, hz, hn = hh.chunk(3, -1)
        thr, thz, thn = thh.chunk(3, -1)
        r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
        tr, tz = r * (1 - r) * (txr + thr), z * (1 - z) * (txz + thz)
        n = (xn + r * hn).tanh()
        tn = (1 - n * n) * (txn + tr * hn + r * thn)
        return n + z * (h - n), tn + tz * (h - n) + z * (th - tn), None, None
    pre, tpre = xg + hh, txg + thh
    if mode == "RNN_TANH":
        h_new = pre.tanh()
        return h_new, (1 - h_new * h_new) * tpre, None, None
    return pre.relu(), tpre * (pre > 0), None, None


def _layer_jvp(inputs, tangents):
    """The tangents ``(out, h_n[, c_n])`` of ``RecurrentLayer``: the unfused steps, each
    with its tangent (an input without one gets a zero tangent)."""
    import ember
    mask, mode, reverse = inputs[8:11]
    vals = [primal(v) for v in inputs[:8]]
    tans = [None if v is None else (t if t is not None else ember.zeros_like(v))
            for v, t in zip(vals, tangents[:8])]
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h, c = vals
    tx, tw_ih, tw_hh, tb_ih, tb_hh, tw_hr, th, tc = tans
    xg, txg = _linear(x, w_ih, b_ih), _lin_jvp(x, tx, w_ih, tw_ih, tb_ih)
    T = x.shape[0]
    touts = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h_new, th_new, c_new, tc_new = _step_jvp(mode, xg[t], txg[t], h, th, c, tc, w_hh,
                                                 tw_hh, b_hh, tb_hh, w_hr, tw_hr)
        if mask is not None:                         # packed input: finished rows hold
            m = mask[t]
            h, th = ember.where(m, h_new, h), ember.where(m, th_new, th)
            if c_new is not None:
                c, tc = ember.where(m, c_new, c), ember.where(m, tc_new, tc)
            touts[t] = th_new * m
        else:
            h, th, c, tc = h_new, th_new, c_new, tc_new
            touts[t] = th
    tout = ember.stack(touts)
    return (tout, th, tc) if mode == "LSTM" else (tout, th)


def _recorded_backward(ctx, grads):
    """create_graph: differentiate the unfused layer rebuilt from the saved inputs."""
    from ...autograd import grad as autograd_grad
    inputs = ctx.saved_tensors[:9]
    outs = unfused_layer(ctx.mode, *inputs, ctx.reverse)
    pairs = [(o, g) for o, g in zip(outs, grads) if o is not None and g is not None]
    wrt = [t for t, need in zip(inputs, ctx.needs_input_grad) if need]
    got = iter(autograd_grad([o for o, _ in pairs], wrt, [g for _, g in pairs],
                             create_graph=True, allow_unused=True))
    return tuple(next(got) if need else None for need in ctx.needs_input_grad[:9])


def recurrent_layer(mode: str, x: Tensor, weights: tuple, h0: Tensor, c0, mask, reverse: bool):
    """``(out, h_n, c_n)`` of one layer and direction over time-major ``x (T, N, I)``."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    res = RecurrentLayer.apply(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, mask, mode, reverse)
    return res if mode == "LSTM" else (res[0], res[1], None)
