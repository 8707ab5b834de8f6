"""Registry views: ``api`` (blueprint ``registry_api``, the Patients API) and ``pages`` (blueprint
``registry``, the Japanese pages). The app registers both by name (see wiring)."""
