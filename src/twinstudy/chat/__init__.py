"""Mirror chat: talk to several models at once, then replay the conversation as an experiment.

- :mod:`.participants` — ``--models`` entries (``name`` or ``name@label``) to ready backends;
- :mod:`.db` — conversations and turns in the study's SQLite file (own tables, WAL);
- :mod:`.engine` — one user turn to every model at once, each with its own history;
- :mod:`.render` — side-by-side (wide terminal) or stacked (narrow) display;
- :mod:`.session` — the interactive loop and its slash commands;
- :mod:`.replay` — re-send a saved conversation's user turns to other models / language / framing;
- :mod:`.export` — a conversation's user turns as an open-ended instrument;
- the ``twinstudy chat`` group and the ``twinstudy replay`` command live in :mod:`twinstudy.cli.chat`.
"""
