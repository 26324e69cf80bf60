"""The Python SDK: Shipyard over HTTP, with pandas DataFrames where a table is the answer.

::

    import shipyard as sy

    sy.connect()                                   # SHIPYARD_URL, or a local server
    ds = sy.Dataset.create("churn", df)
    job = sy.Job.run("processing", "clean.py", inputs={"raw": "churn"},
                     outputs=["churn-clean"]).wait(logs=True)
    job.metrics()
"""

from __future__ import annotations

from shipyard.client._client import Client, connect, default_client
from shipyard.client._datasets import Dataset
from shipyard.client._jobs import Job, JobFailed, WaitTimeout
from shipyard.client._sources import SQL

__all__ = ["SQL", "Client", "Dataset", "Job", "JobFailed", "WaitTimeout", "connect",
           "default_client"]
