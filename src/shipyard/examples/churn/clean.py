"""Processing job: clean the raw telco churn table into the table models train on.

Runs inside a Shipyard job: reads the `raw` input channel and writes the
`churn-clean` output dataset. The columns stay those of the raw table, so the rows
an endpoint is invoked with (rows.csv) need no cleaning of their own.
"""

from shipyard import runtime

df = runtime.read_input("raw")
print(f"read {len(df):,} rows x {df.shape[1]} columns")

# total_charges is missing for brand-new customers (tenure 0): they have paid nothing yet.
new = df["total_charges"].isna() & (df["tenure"] == 0)
df.loc[new, "total_charges"] = 0.0
print(f"set total_charges to 0 for {int(new.sum())} customers with tenure 0")

# The export has no customer id, so a row repeated exactly is a duplicate of itself.
before = len(df)
df = df.drop_duplicates().reset_index(drop=True)
print(f"dropped {before - len(df)} duplicate rows")

runtime.log_metric("rows_out", len(df))
runtime.log_metric("churn_rate", float((df["churn"] == "Yes").mean()))
runtime.write_output(df, "churn-clean")
print(f"wrote {len(df):,} rows to churn-clean")
