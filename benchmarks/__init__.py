"""RegServe benchmarks: python -m benchmarks serving|training|accuracy|all (see README.md)."""
