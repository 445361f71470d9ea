"""Tasks: Long Range Arena, synthetic recall tasks, and the training loop."""
