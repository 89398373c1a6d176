"""Machine learning that makes locations better: training, evaluation and the promotion gate.

Pure code (numpy/scipy, scikit-learn imported lazily): no MLflow, no Dagster. The MLflow glue lives in
`assets_dag/ml/` (training, registry, promotion) and `realtime/models.py` (serving the champion per site).
"""
