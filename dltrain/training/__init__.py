"""Training: the fit loop wiring, callbacks and the run it writes."""
