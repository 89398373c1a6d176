-- Extra databases next to the platform's own: Dagster's run/event storage and MLflow's tracking store.
CREATE DATABASE dagster OWNER assettag;
CREATE DATABASE mlflow OWNER assettag;
