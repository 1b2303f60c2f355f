"""Small helpers shared by the package: distributed training (``distributed``)."""
