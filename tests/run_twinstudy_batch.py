"""``python tests/run_twinstudy_batch.py ARGS``: the twinstudy command line, with the stand-in batch
adapter of tests/batch_http_adapter.py when the provider adapters are not in this tree (the kill
tests and bench/batch.py run it as a subprocess)."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("twinstudy.batch.providers") is None:
    from batch_http_adapter import install

    install()

from twinstudy.cli.main import main  # noqa: E402

if __name__ == "__main__":
    main(prog_name="twinstudy")
