"""Other serving frameworks, started by the serving benchmark on the same models (issue 13)."""
