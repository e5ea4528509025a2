"""Whether every model of a study can run before anything is sent: its backend can be built
(an API key is set, the provider is known). Shared by ``twinstudy run`` and the Python API."""

from __future__ import annotations

from collections.abc import Callable

from twinstudy.errors import UserError
from twinstudy.models.base import Model, ModelInfo


def check_models_ready(infos: list[ModelInfo], skip_unavailable: bool,
                       factory: Callable[[ModelInfo], Model]) -> tuple[dict[str, Model], dict[str, str]]:
    """Build every backend before any call. Missing keys (or other set-up problems) stop the run
    unless told to skip, all named in one message, so a user fixes them in one go."""
    from twinstudy.models.registry import check_key_sharing

    check_key_sharing(infos)
    models: dict[str, Model] = {}
    unavailable: dict[str, str] = {}
    for info in infos:
        try:
            models[info.id] = factory(info)
        except UserError as exc:
            unavailable[info.id] = str(exc)
    if unavailable and not skip_unavailable:
        if len(unavailable) == 1:
            raise UserError(f"{next(iter(unavailable.values()))} (or pass --skip-unavailable to run the "
                            "other models).")
        lines = "; ".join(f"{mid}: {why.rstrip('.')}" for mid, why in unavailable.items())
        raise UserError(f"{len(unavailable)} models cannot run: {lines}. Set what is named, or pass "
                        "--skip-unavailable to run the other models.")
    return models, unavailable
