"""The model's life outside HTTP: config, data, training, bundles, the registry.

Two layers, each module with one job (import from the module, never from this package):

- domain (pure: no file or network access): ``metrics`` (tasks and the metric catalogue),
  ``estimators`` (the estimator catalogue), ``config`` (the training config), ``schema``
  (feature schema), ``pipeline`` (pipelines and prediction columns), ``profile`` (reference
  profiles), ``training`` (fit, score, quality gate);
- storage: ``data`` (data files, demo data, atomic writes), ``bundle`` (save, verify and load
  model versions), ``reports`` (the latest monitoring report), ``models`` (open any model
  reference) and, when the project tracks with MLflow, ``tracking`` (runs and the registry);

and ``workflow`` above both: the steps ``data``, ``train``, ``evaluate`` and ``predict`` run.
"""
