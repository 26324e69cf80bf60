"""The built-in job kinds, one module each (see docs/architecture.md, "Job kinds").

Each module makes one ``register(JobKind(...))`` call when imported; the registry
imports them (:func:`shipyard.jobs._kinds.load_builtin_kinds`). This package's
``__init__`` imports nothing, so a job process that runs an in-job entry living
here (``_transform_entry``, ``_wrangle_entry``) imports only that entry module.
"""
