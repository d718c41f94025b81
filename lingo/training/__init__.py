"""Trainer set-up, callbacks and checkpoint/resume."""
