"""A lambda sweep: ``python -m trainer sweep`` trains one variant per penalty x place x lambda."""
