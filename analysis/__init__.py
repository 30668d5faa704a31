"""What was trained, measured: statistics, comparisons, results tables, charts, robustness and
sweep reports. Reads models/ through
regserve_contracts; imports neither TensorFlow nor the trainer."""
