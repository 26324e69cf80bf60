"""Script-mode training job: a logistic regression on the cleaned churn table.

Reads the `train` channel, trains with SGD (one metric point per epoch, so the
learning curve shows live), evaluates on a held-out split and saves the model
as readable JSON (coefficients + preprocessing) in the model folder: no pickle.
Hyperparameters: epochs, alpha, eta0, and the target column (churn, Yes/No).
"""

import json

import numpy as np
import pandas as pd
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from shipyard import runtime

hp = runtime.hyperparameters()
epochs = int(hp.get("epochs", 20))
alpha = float(hp.get("alpha", 1e-3))
eta0 = float(hp.get("eta0", 0.05))
target = hp.get("target", "churn")

df = runtime.read_input("train")
y = (df.pop(target).astype(str) == "Yes").astype(int).to_numpy()  # 1: the customer left
numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
categorical = [c for c in df.columns if c not in numeric]
X = pd.get_dummies(df, columns=categorical, dtype=float)
columns = list(X.columns)
X_train, X_test, y_train, y_test = train_test_split(
    X.to_numpy(dtype=float), y, test_size=0.2, stratify=y, random_state=0
)
mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-9
X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
print(f"training on {len(X_train):,} rows, {len(columns)} features, {epochs} epochs")

model = SGDClassifier(
    loss="log_loss", alpha=alpha, learning_rate="invscaling", eta0=eta0, random_state=0
)
for epoch in range(epochs):
    model.partial_fit(X_train, y_train, classes=np.array([0, 1]))
    train_loss = log_loss(y_train, model.predict_proba(X_train))
    test_loss = log_loss(y_test, model.predict_proba(X_test))
    runtime.log_metric("train_log_loss", train_loss, step=epoch)
    runtime.log_metric("validation_log_loss", test_loss, step=epoch)
    print(f"epoch {epoch:2d}  train_log_loss={train_loss:.4f}  validation_log_loss={test_loss:.4f}")

proba = model.predict_proba(X_test)[:, 1]
auc = roc_auc_score(y_test, proba)
acc = accuracy_score(y_test, proba >= 0.5)
runtime.log_metric("validation_roc_auc", auc)
runtime.log_metric("validation_accuracy", acc)
print(f"validation ROC AUC {auc:.3f}, accuracy {acc:.3f}")

model_dir = runtime.model_dir()
(model_dir / "model.json").write_text(
    json.dumps(
        {
            "kind": "logistic-regression",
            "target": target,
            "columns": columns,
            "categorical": categorical,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0]),
        },
        indent=1,
    )
)
(model_dir / "metrics.json").write_text(json.dumps({"roc_auc": auc, "accuracy": acc}))
print(f"saved the model to {model_dir}")
