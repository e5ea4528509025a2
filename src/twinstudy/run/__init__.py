"""The run engine: runner, concurrency limit, budget, costs and progress display."""
