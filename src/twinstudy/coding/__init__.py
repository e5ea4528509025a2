"""Open answers as data: codebooks, coders (lexicon and LLM judge) and the codes they store.

A *codebook* (YAML, :mod:`twinstudy.coding.codebook`) names categories with EN/ZH definitions. A
*coder* reads a stored open reply and assigns categories; its codes are kept per coder in the
``codes`` table, so several coders can code the same replies and be compared (Krippendorff's
alpha), and any of them can be rerun on the stored text without asking the models again.
"""
