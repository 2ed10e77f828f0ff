"""Convolutionize, the rules and the IR pass: a classifier's graph → its fully convolutional graph.

The rules, shared by the spec-level pass here and the module-level one in
`convolutionize_module` (torch.fx):

- the first linear layer after a flatten of a C×H×W map becomes a conv with an H×W kernel
  (the flatten goes); later linear layers become 1×1 convs; their weights are the same
  numbers, reshaped;
- batchnorm after a converted linear normalizes channels (batchnorm1d → batchnorm2d);
  dropout and activations are element-wise and stay; softmax / log_softmax act on channels;
- an adaptive pool that is the identity at the reference input is removed (and reported);
  any other is an error unless kept on request;
- a global pool over an h×w map becomes the fixed pool it is at the reference input (h×w,
  stride 1), so that each output cell is the original network on one window; with `dense`,
  a global *average* pool is dropped instead and the layers after it (which must be linear)
  apply at every position: a class map whose spatial mean is the original output;
- everything else that reads flattened features (a reshape other than flatten, a linear on
  a 1-d input that never was a map, ...) is an error naming the layer and the reason.
"""
from __future__ import annotations

from dataclasses import dataclass

from netspec.errors import NetspecError


class ConvolutionizeError(NetspecError):
    """A layer that cannot be made convolutional, with the reason."""


@dataclass(frozen=True)
class Change:
    """One layer the conversion changed: how it was, how it is, and why when not obvious."""

    layer: str
    before: str
    after: str
    reason: str = ""

    def describe(self) -> str:
        return f"{self.layer}: {self.before} → {self.after}" + (f" ({self.reason})" if self.reason else "")
