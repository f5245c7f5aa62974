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
    layout: int,
    X: torch.Tensor,
    initial_h: torch.Tensor | None,
    initial_c: torch.Tensor | None,
    num_directions: int,
    hidden_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``X [T, B, I]`` and both initial states ``[D, B, H]``, absent ones as zeros."""
    if layout == 1:
        X = X.transpose(0, 1)
        initial_h, initial_c = (
            None if s is None else s.transpose(0, 1) for s in (initial_h, initial_c)
        )
    shape = (num_directions, X.shape[1], hidden_size)
    h0 = initial_h if initial_h is not None else X.new_zeros(shape)
    c0 = initial_c if initial_c is not None else X.new_zeros(shape)
    return X, h0, c0


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


def check_lengths(node_name: str, lengths: torch.Tensor, steps: int) -> None:
    """Refuse ``sequence_lens`` outside ``[0, T]``, as onnxruntime does (eager runs only).

    ``torch.export`` cannot capture a check on the data, so the program leaves it out.
    """
    if torch.compiler.is_exporting():
        return
    outside = lengths[(lengths < 0) | (lengths > steps)]
    if outside.numel():
        raise ValueError(
            f"node {node_name!r}: sequence_lens holds {outside.tolist()}, outside [0, {steps}] "
            f"(X has {steps} steps); give each batch entry a length of at most {steps}"
        )
