"""The pynomaly command line (click)."""
