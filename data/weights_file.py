"""Reading a file of tensors without unpickling code: `torch.load(weights_only=True)`, every failure one
`DataError` naming the file. Checkpoints, training states and exported weights all go through here."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

from soccerspot.errors import DataError


def load_weights_only(path: str | Path, what: str = "checkpoint") -> object:
    """`torch.load(weights_only=True)` with the errors turned into one clear `DataError`; `what` names the
    kind of file in the messages ("checkpoint", "training state")."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        globals_named = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if globals_named is None:
            raise DataError(path, f"not a readable PyTorch {what}: the weights-only reader could not parse it "
                                  "(corrupt or truncated, another kind of file, or a pickle holding more than "
                                  "tensors); soccerspot loads only plain tensor checkpoints") from None
        raise DataError(
            path,
            f"refused: the {what} holds pickled Python objects ({globals_named.group(1)}), not only tensors; "
            "loading it could run code, and soccerspot only reads weights (torch.load weights_only=True). "
            "Re-save it as a plain state_dict: torch.save(model.state_dict(), 'model.pt')",
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        # junk bytes reach torch's zip/pickle readers as any of these (b'hello' gives KeyError: 101)
        raise DataError(path, f"not a readable PyTorch {what} ({type(error).__name__}: {error})") from None
