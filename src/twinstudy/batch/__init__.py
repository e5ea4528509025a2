"""Provider batch APIs: the same calls as a live run, sent as asynchronous batches at the batch price.

:mod:`twinstudy.batch.api` is the contract between the batch orchestration (store, resume, runner
integration) and the per-provider adapters (request and result shapes).
"""
