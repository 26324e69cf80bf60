"""Real-time endpoints: deploy a registered model version as supervised serving processes.

:class:`EndpointService` validates and records what to deploy; the
:class:`EndpointSupervisor` (a daemon thread of the control plane) materialises the
bundle, runs the instance processes (``python -m shipyard.serving``), restarts
any that die and picks a healthy one for each invocation the control plane proxies.
"""

from shipyard.endpoints._autodeploy import SETTING as AUTO_DEPLOY_SETTING
from shipyard.endpoints._autodeploy import AutoDeployer, check_auto_deploy
from shipyard.endpoints._forward import Answer, Forwarder, ForwardError
from shipyard.endpoints._invoke import invoke, unavailable
from shipyard.endpoints._service import (
    ACTIVE,
    AUTOSCALING_DEFAULTS,
    CREATING,
    DELETING,
    FAILED,
    IN_SERVICE,
    UNSEEN_CATEGORIES,
    UPDATING,
    EndpointService,
    endpoint_to_dict,
    unknown_autoscaling_keys,
)
from shipyard.endpoints._supervisor import EndpointSupervisor, Instance

__all__ = [
    "ACTIVE",
    "AUTOSCALING_DEFAULTS",
    "AUTO_DEPLOY_SETTING",
    "Answer",
    "AutoDeployer",
    "CREATING",
    "DELETING",
    "FAILED",
    "ForwardError",
    "Forwarder",
    "IN_SERVICE",
    "UNSEEN_CATEGORIES",
    "UPDATING",
    "EndpointService",
    "EndpointSupervisor",
    "Instance",
    "check_auto_deploy",
    "endpoint_to_dict",
    "invoke",
    "unavailable",
    "unknown_autoscaling_keys",
]
