"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells.

Parameters carry PyTorch's names, shapes, order and init (``weight_ih_l0``,
``weight_hh_l0_reverse``, ``bias_ih_l0``, ``weight_hr_l0`` ...; all uniform in
``+-1/sqrt(hidden_size)``), so state dicts map one to one. Gate order is PyTorch's: LSTM
``i, f, g, o``; GRU ``r, z, n`` with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
Each layer and direction is one fused graph node over the whole sequence (see
``nn/_functional/rnn.py``): one input GEMM, one ``h @ W_hh^T`` GEMM per step, and a
hand-written backward; the cells are the same node over one step.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ... import _creation
from ..._tensor import Tensor
from .. import init
from .._functional.rnn import recurrent_layer
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _F():
    from .. import functional
    return functional


def _ops():
    import ember
    return ember


# -- the multi-layer layers ------------------------------------------------------------------
class RNNBase(Module):
    """Shared parameters, init, repr and time loop of ``RNN``, ``LSTM`` and ``GRU``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or \
                isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be an integer greater than zero")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be an integer greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        gate = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        real_hidden = proj_size or hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else real_hidden * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate, layer_in)), ("weight_hh", (gate, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(_creation.empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in self._layer_names(k, d)]
                for k in range(self.num_layers) for d in range(2 if self.bidirectional else 1)]

    def _layer_names(self, layer: int, d: int) -> list[str]:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        return [n for n in self._flat_weights_names if n.endswith(sfx)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def flatten_parameters(self) -> None:
        """A no-op (there is no cuDNN weight buffer to compact)."""

    # -- forward ----------------------------------------------------------------------------
    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = self.__dict__.get("_parameters", {}).get

        def p(name):
            return get(name + sfx)
        return p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"), p("weight_hr")

    def _direction(self, x, h, c, weights, reverse, mask):
        return recurrent_layer(self.mode, x, weights, h, c, mask, reverse)

    def _initial(self, hx, N: int, dtype):
        dirs = 2 if self.bidirectional else 1
        real_hidden = self.proj_size or self.hidden_size
        shape_h = (self.num_layers * dirs, N, real_hidden)
        shape_c = (self.num_layers * dirs, N, self.hidden_size)
        if hx is None:
            h = _creation.zeros(shape_h, dtype=dtype)
            return (h, _creation.zeros(shape_c, dtype=dtype)) if self.mode == "LSTM" else h
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            for t, shape, what in ((hx[0], shape_h, "hidden"), (hx[1], shape_c, "cell")):
                if tuple(t.shape) != shape:
                    raise RuntimeError(f"Expected {what} size {shape}, got {list(t.shape)}")
            return hx
        if tuple(hx.shape) != shape_h:
            raise RuntimeError(f"Expected hidden size {shape_h}, got {list(hx.shape)}")
        return hx

    def forward(self, input, hx=None):
        packed = hasattr(input, "batch_sizes") and hasattr(input, "data")
        mask = None
        if packed:
            from ..utils.rnn import pad_packed_sequence
            sorted_idx, unsorted_idx = input.sorted_indices, input.unsorted_indices
            x, lengths = pad_packed_sequence(input)
            if sorted_idx is not None:
                x = x[:, sorted_idx]
                lengths = lengths[sorted_idx]
            steps = _creation.arange(x.shape[0]).reshape(-1, 1, 1)
            mask = steps < lengths.reshape(1, -1, 1)
            batched = True
        else:
            x = input
            batched = x.ndim == 3
            if x.ndim not in (2, 3):
                raise ValueError(f"{self.mode}: Expected input to be 2D or 3D, got {x.ndim}D "
                                 f"instead")
            if not batched:
                x = x.unsqueeze(1)
                if hx is not None:
                    hx = tuple(h.unsqueeze(1) for h in hx) if self.mode == "LSTM" \
                        else hx.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        if packed and hx is not None and sorted_idx is not None:
            hx = tuple(h[:, sorted_idx] for h in hx) if self.mode == "LSTM" \
                else hx[:, sorted_idx]
        state = self._initial(hx, x.shape[1], x.dtype)
        h0, c0 = state if self.mode == "LSTM" else (state, None)
        dirs = 2 if self.bidirectional else 1
        ops = _ops()
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                out, h, c = self._direction(x, h0[k], None if c0 is None else c0[k],
                                            self._weights(layer, d), d == 1, mask)
                outs.append(out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if dirs == 1 else ops.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _F().dropout(x, self.dropout, True)
        h_n = ops.stack(hs)
        hidden = (h_n, ops.stack(cs)) if self.mode == "LSTM" else h_n
        if packed:
            from ..utils.rnn import PackedSequence
            if unsorted_idx is not None:
                hidden = tuple(t[:, unsorted_idx] for t in hidden) if self.mode == "LSTM" \
                    else hidden[:, unsorted_idx]
            data = _pack_like(x, input)
            return PackedSequence(data, input.batch_sizes, sorted_idx, unsorted_idx), hidden
        if not batched:
            x = x.squeeze(1)
            hidden = tuple(t.squeeze(1) for t in hidden) if self.mode == "LSTM" \
                else hidden.squeeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, hidden


def _pack_like(x: Tensor, packed) -> Tensor:
    """The rows of time-major padded ``x`` (sorted batch) in ``packed``'s data order."""
    ops = _ops()
    sizes = [int(b) for b in packed.batch_sizes.tolist()]
    return ops.cat([x[t, :b] for t, b in enumerate(sizes)], 0)


class RNN(RNNBase):
    """Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None, proj_size: int = 0) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, gates ``i, f, g, o``; ``proj_size`` adds ``weight_hr``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, gates ``r, z, n``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, proj_size: int = 0) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


# -- cells -----------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Shared parameters, init and repr of the cells."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gate = num_chunks * hidden_size
        self.weight_ih = Parameter(_creation.empty((gate, input_size), dtype=dtype))
        self.weight_hh = Parameter(_creation.empty((gate, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_creation.empty(gate, dtype=dtype))
            self.bias_hh = Parameter(_creation.empty(gate, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input: Tensor, hx, name: str):
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             f"instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        return input, batched

    def _zeros(self, input: Tensor) -> Tensor:
        return _creation.zeros((input.shape[0], self.hidden_size), dtype=input.dtype)


def _cell(cell: RNNCellBase, mode: str, x: Tensor, h: Tensor, c) -> tuple:
    """One step of the fused layer node: ``(h', c')``."""
    weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, None)
    return recurrent_layer(mode, x.unsqueeze(0), weights, h, c, None, False)[1:]


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._prepare(input, hx, "RNNCell")
        h = self._zeros(x) if hx is None else (hx if batched else hx.unsqueeze(0))
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        h = _cell(self, mode, x, h, None)[0]
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        x, batched = self._prepare(input, hx, "LSTMCell")
        if hx is None:
            h = c = self._zeros(x)
        else:
            h, c = hx if batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = _cell(self, "LSTM", x, h, c)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._prepare(input, hx, "GRUCell")
        h = self._zeros(x) if hx is None else (hx if batched else hx.unsqueeze(0))
        h = _cell(self, "GRU", x, h, None)[0]
        return h if batched else h.squeeze(0)
