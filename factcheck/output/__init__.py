"""Rendering a Report for people and programs: JSON lines, JSON, CSV, Markdown and HTML."""
