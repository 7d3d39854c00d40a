"""Jobs with side effects: data generation, training, evaluation, the registry, and the CLI.

MLflow is imported in one module only (``pipelines/tracking.py``); the engine in
``recommender/`` never imports anything from here.
"""
