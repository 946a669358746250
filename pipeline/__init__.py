"""Orchestration of the ganops pipeline with Prefect: ingest, reproduce (DVC), promote, report.

Flows hold no math: each task is one `dvc` subprocess call, one call into the ingest library, or
registry reads. DVC stays the only definition of the DAG; MLflow holds the champions.
"""
