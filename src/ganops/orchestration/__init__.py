"""Driving DVC from outside: its CLI as a subprocess, its DAG, and stage-by-stage (parallel) reproduction.

Only DVC's command line is used (its Python API beyond `dvc.api` is not public); nothing here imports
torch, mlflow, prefect or dvc, so a driver process starts in a fraction of a second.
"""
