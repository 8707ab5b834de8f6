"""Drills: scenario library, scheduling, tabletop/functional runs, evaluation and after-action reports."""
