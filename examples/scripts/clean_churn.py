"""Processing job: clean the raw telco churn table into a modelling table.

Runs inside a Shipyard job: reads the `raw` input channel and writes the
`churn-clean` output dataset.
"""

from shipyard import runtime

df = runtime.read_input("raw")
print(f"read {len(df):,} rows x {df.shape[1]} columns")

# total_charges is missing for brand-new customers (tenure 0): they have paid nothing yet.
missing = int(df["total_charges"].isna().sum())
df["total_charges"] = df["total_charges"].fillna(0.0)
print(f"filled {missing} missing total_charges with 0 (customers with tenure 0)")

df["churn"] = (df["churn"].astype(str).str.lower() == "yes").astype("int8")
df["charges_per_month_of_tenure"] = df["total_charges"] / df["tenure"].clip(lower=1)
before = len(df)
df = df.drop_duplicates()
print(f"dropped {before - len(df)} duplicate rows")

runtime.log_metric("rows_out", len(df))
runtime.log_metric("churn_rate", float(df["churn"].mean()))
runtime.write_output(df, "churn-clean")
print(f"wrote {len(df):,} rows to churn-clean")
