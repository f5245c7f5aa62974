"""The framework-free core: gate orders, weight mappings and NumPy reference cells."""
