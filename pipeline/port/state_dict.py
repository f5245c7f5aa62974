"""``state_dict`` files (``.pt``): the torch side of porting (runs where torch may be imported).

Arrays cross to and from the torch worker as ``.npz`` files keyed by parameter name.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import SourceError


def save_state_dict(npz_path: str, pt_path: str, constructor: dict | None = None) -> str:
    """Write the arrays of ``npz_path`` as a torch ``state_dict`` to ``pt_path``.

    With ``constructor`` (keyword arguments of ``torch.nn.<module>``, plus ``module``), the
    state_dict is first loaded, strictly, into that module: a file that would not load into
    the printed constructor is never written.
    """
    import torch

    with np.load(npz_path) as arrays:
        state_dict = {name: torch.from_numpy(arrays[name].copy()) for name in arrays.files}
    if constructor is not None:
        kwargs = dict(constructor)
        module = getattr(torch.nn, kwargs.pop("module"))(**kwargs)
        module.load_state_dict(state_dict, strict=True)
    path = Path(pt_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state_dict, temporary)
    temporary.replace(path)
    return str(path)


def load_state_dict(pt_path: str, npz_path: str) -> dict[str, Any]:
    """Read a ``state_dict`` (``.pt``) into ``npz_path``; returns its names and module.

    The file is loaded with ``weights_only=True``: no code in it runs. Besides a plain
    ``state_dict``, a whole ``torch.save``'d ``nn.LSTM``/``nn.GRU``/``nn.RNN`` is accepted
    (those classes only); its ``state_dict()`` is taken, and ``module`` describes it:
    ``kind``, ``batch_first``, ``num_layers``, ``bidirectional``, ``proj_size``. A plain
    state_dict has ``module`` None.
    """
    import torch

    allowed = [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN]
    try:
        with torch.serialization.safe_globals(allowed):
            loaded = torch.load(pt_path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[-1]
        raise SourceError(
            f"{pt_path}: expected a state_dict or a torch.save'd nn.LSTM/nn.GRU/nn.RNN, "
            f"received a file that loads only by running its code ({reason}); save "
            "module.state_dict() instead (torch.save(module.state_dict(), path))"
        ) from error
    except (RuntimeError, KeyError, EOFError, ValueError, OSError, IndexError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SourceError(
            f"{pt_path}: not a torch file (torch.load failed: {type(error).__name__}: "
            f"{reason[:200]}); expected what torch.save(module.state_dict(), path) writes"
        ) from None
    module = None
    if isinstance(loaded, torch.nn.RNNBase):
        module = {
            "kind": type(loaded).__name__,
            "batch_first": bool(loaded.batch_first),
            "num_layers": int(loaded.num_layers),
            "bidirectional": bool(loaded.bidirectional),
            "proj_size": int(getattr(loaded, "proj_size", 0)),
        }
        loaded = loaded.state_dict()
    if not isinstance(loaded, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise SourceError(
            f"{pt_path}: expected a state_dict (parameter names to tensors) or an "
            f"nn.LSTM/nn.GRU/nn.RNN, received {type(loaded).__name__}"
        )
    arrays = {name: value.detach().cpu().numpy() for name, value in loaded.items()}
    np.savez(npz_path, **arrays)
    return {"names": list(arrays), "module": module}
