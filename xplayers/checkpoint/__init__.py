"""The checkpoint file format (``.npz`` without pickle) and atomic writes."""
