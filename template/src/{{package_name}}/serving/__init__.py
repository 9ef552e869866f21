"""Serve predictions from a trained model over HTTP.

``app`` builds the API (``create_app``) and runs it (``serve``); ``routes`` holds the
endpoints, ``middleware`` what every request goes through, ``runtime`` the state they share
and ``settings`` the ``MODEL_SERVER_*`` variables. Import from those modules.
"""
