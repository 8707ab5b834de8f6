"""Regions (圏域) and organisations (facilities are organisations with capabilities)."""
