"""Plans blueprints: ``api.bp`` (JSON API) and ``pages.bp`` (the authoring pages)."""
