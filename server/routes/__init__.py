"""The HTTP blueprints: /predict, /variants, /comparison, health, the page, the OpenAPI document."""
