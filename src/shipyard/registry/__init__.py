"""The model registry: model groups and versions gated by approval, with model cards."""

from shipyard.registry._service import (
    APPROVED,
    PENDING,
    REJECTED,
    STATUSES,
    CriteriaNotMet,
    RegistryService,
    card_markdown,
    group_to_dict,
    version_to_dict,
)

__all__ = [
    "APPROVED",
    "PENDING",
    "REJECTED",
    "STATUSES",
    "CriteriaNotMet",
    "RegistryService",
    "card_markdown",
    "group_to_dict",
    "version_to_dict",
]
