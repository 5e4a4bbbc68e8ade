"""``AdaptiveLogSoftmaxWithLoss``: the efficient softmax of Grave et al. (2017) for large
vocabularies.

The ``cutoffs`` split the classes into a head shortlist (frequent classes) and tail
clusters. The head scores the shortlist plus one entry per cluster; each cluster has a
low-rank two-layer projection (its hidden size shrinks by ``div_value`` per cluster). A
target's log-probability is its head entry, plus, for tail classes, its log-probability
inside its cluster.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

from ..._ops import cat
from ..._tensor import Tensor
from .._functional.activation import log_softmax
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: ``forward(input, target)`` returns ``(output, loss)`` with each
    target's log-probability and the mean negative log-likelihood; ``log_prob`` gives all
    classes' log-probabilities and ``predict`` the most likely class.

    Example::

        asm = nn.AdaptiveLogSoftmaxWithLoss(64, 1000, cutoffs=[10, 100])
        out, loss = asm(hidden, target)
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        # Created in this order (head, then each cluster's two layers), so a seeded model
        # draws the same initial weights as torch's.
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, dtype=dtype),
                                        Linear(hidden, size, bias=False, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        if target_.dim() == 1:
            if input_.size(0) != target_.size(0):
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.dim() != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs "
                                   "with size", input_.size())
        elif target_.dim() == 0:
            if input_.dim() != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs "
                                   "with size", input_.size())
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.dim() > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        # Column of the head each row reads: its own class, or its cluster's entry.
        head_column = target.clone()
        tail_parts = []
        used = int(((target >= 0) & (target < self.shortlist_size)).sum())
        for i in range(self.n_clusters):
            lo, hi = self.cutoffs[i], self.cutoffs[i + 1]
            rows = ((target >= lo) & (target < hi)).nonzero().flatten()
            if rows.numel() == 0:
                continue
            used += rows.numel()
            head_column = head_column.index_fill(0, rows, self.shortlist_size + i)
            cluster = log_softmax(self.tail[i](input.index_select(0, rows)), dim=1)
            local = cluster.gather(1, (target.index_select(0, rows) - lo).unsqueeze(1))
            tail_parts.append((rows, local.squeeze(1)))
        if used != target.size(0):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{target.min().item()}, "
                               f"{target.max().item()}] were found. ")
        output = input.new_zeros(target.size(0))
        for rows, local in tail_parts:
            output = output.index_copy(0, rows, local)
        head = log_softmax(self.head(input), dim=1)
        output = output + head.gather(1, head_column.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        head = log_softmax(head_output, dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster + head[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, dim=1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities of every class, ``(N, n_classes)`` (or ``(n_classes,)``)."""
        batched = input.dim() > 1
        x = input if batched else input.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row of ``(N, in_features)`` input (cheaper than
        ``log_prob(input).argmax(1)`` when the head already picks a shortlist class)."""
        head_output = self.head(input)
        output = head_output.argmax(dim=1)  # 1-d input raises here, as in PyTorch
        outside = output >= self.shortlist_size
        if not bool(outside.any()):
            return output
        if bool(outside.all()):
            return self._full_log_prob(input, head_output).argmax(dim=1)
        best = self._full_log_prob(input[outside], head_output[outside]).argmax(dim=1)
        return output.masked_scatter(outside, best)
