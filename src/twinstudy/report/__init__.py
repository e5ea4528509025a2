"""The HTML report and the terminal summary: two renderings of one :class:`~twinstudy.analysis.Results`.

- ``roles``: framing roles from the framing data, the frame with them, and ``analyze_store`` (the one
  analysis ``report``, ``summary`` and ``analyze`` all render);
- ``build``: reads the store's facts, builds every section, renders and writes the page;
- ``sections/``: one builder per section, each returning a dataclass (no SQL: reads go through
  :mod:`twinstudy.store.reads`);
- ``render``: the Jinja environment, JSON safe inside a script tag, the transcript payload;
- ``plots`` decides which figures to draw, ``figures`` draws them;
- ``summary``: the terminal tables; ``numbers``: how an estimate and its interval are written.
"""
