"""What every torch form of an ONNX recurrent node does around its recurrence.

- ``layout=1`` (batch-major) takes ``X [B, T, I]`` and states ``[B, D, H]``, and returns
  ``Y [B, T, D, H]``: the recurrence itself always runs time-major (``X [T, B, I]``, states
  ``[D, B, H]``, ``Y [T, D, B, H]``) between ``to_time_major`` and ``from_time_major``.
- ``sequence_lens`` of 0 gives zeros in every output, not the initial state (ONNX, and
  onnxruntime, define it so): ``zero_empty_entries``.
"""

from __future__ import annotations

import torch


def to_time_major(
    layout: int, X: torch.Tensor, *states: torch.Tensor | None
) -> tuple[torch.Tensor, ...]:
    """``X`` and the initial states in layout 0; absent states stay ``None``."""
    if layout == 0:
        return (X, *states)
    return (X.transpose(0, 1), *(None if s is None else s.transpose(0, 1) for s in states))


def from_time_major(
    layout: int, Y: torch.Tensor, *states: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """``Y [T, D, B, H]`` and final states ``[D, B, H]`` in the node's layout."""
    if layout == 0:
        return (Y, *states)
    return (Y.permute(2, 0, 1, 3), *(s.transpose(0, 1) for s in states))


def zero_empty_entries(
    lengths: torch.Tensor, Y: torch.Tensor, *states: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Zero the outputs of batch entries of length 0; ``Y [T, D, B, H]``, states ``[D, B, H]``."""
    keep = (lengths > 0).to(Y.device).view(-1, 1)
    return (torch.where(keep, Y, 0.0), *(torch.where(keep, s, 0.0) for s in states))


def select_outputs(num_outputs: int, outputs: tuple[torch.Tensor, ...]):
    """The node's first ``num_outputs`` outputs, a bare tensor when there is one."""
    selected = outputs[:num_outputs]
    return selected[0] if num_outputs == 1 else selected
