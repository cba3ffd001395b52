"""Grading: worksheets and typed answers read, judged cell by cell, a class batched, exported to the
platforms courses use, and analysed (item analysis, PrairieLearn questions)."""
