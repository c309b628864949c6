"""Progressive delivery: plans, the controller (service), its composition (wiring)."""
