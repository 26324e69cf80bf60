"""What still uses a dataset, a model group or an endpoint, and deleting safely.

``References.check_delete`` is the one rule: something in use is not deleted (409
naming every referrer) unless an admin forces it, and a forced delete is audited
with the referrers it left. Finders per kind of referrer plug in with
``References.register``; :func:`register_builtin` adds the ones Shipyard has.
"""

from shipyard.references._finders import register_builtin, spec_uses_dataset
from shipyard.references._references import NAMED, TARGETS, Finder, References, Referrer

__all__ = ["NAMED", "TARGETS", "Finder", "References", "Referrer", "register_builtin",
           "spec_uses_dataset"]
