"""Processing step of pipeline.py: split the churn table into the rows a model trains on
(churn-train) and the rows it is judged on (churn-holdout), the same way every time."""
from shipyard import runtime

df = runtime.read_input("raw").drop_duplicates().reset_index(drop=True)
df["total_charges"] = df["total_charges"].fillna(0.0)
holdout = df.sample(frac=0.2, random_state=0)
runtime.write_output(df.drop(index=holdout.index).reset_index(drop=True), "churn-train")
runtime.write_output(holdout.reset_index(drop=True), "churn-holdout")
print(f"{len(df) - len(holdout):,} rows to train on, {len(holdout):,} held out")
