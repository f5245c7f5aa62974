"""``state_dict`` files (``.pt``): the torch side of porting (runs where torch may be imported).

Arrays cross to and from the torch worker as ``.npz`` files keyed by parameter name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


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


def load_state_dict(pt_path: str, npz_path: str) -> list[str]:
    """Read a ``state_dict`` (``.pt``) into ``npz_path``; returns its parameter names.

    A whole pickled module is accepted too: its ``state_dict()`` is taken.
    """
    import torch

    loaded = torch.load(pt_path, map_location="cpu", weights_only=False)
    if isinstance(loaded, torch.nn.Module):
        loaded = loaded.state_dict()
    arrays = {name: value.detach().cpu().numpy() for name, value in loaded.items()}
    np.savez(npz_path, **arrays)
    return list(arrays)
