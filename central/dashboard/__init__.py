"""The officer dashboard served by the central service (pages, static assets, translations).

``install(app)`` mounts it; see ``central/dashboard/router.py`` and docs/dashboard.md.
"""
