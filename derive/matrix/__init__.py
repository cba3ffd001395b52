"""The matrix-form engine: typed equations, the VJP table, backprop, proofs and generated code.

Kept free of imports so that scalar work does not load NumPy."""

#: The exact proof (against the derivative of the SymPy loss, entry by entry) is skipped, with a note,
#: above this many variable entries.
EXACT_ENTRY_LIMIT = 100
