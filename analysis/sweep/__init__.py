"""A lambda sweep's analysis: the path per family, its picks, its report and chart."""
