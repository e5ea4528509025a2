"""The closed-answer grammar behind :func:`twinstudy.scoring.parse.parse_answer`.

``lexicon`` loads the phrases (data with ids), ``readers`` read one value at a position,
``candidates`` finds every candidate pick and every signal, ``resolve`` decides.
"""
