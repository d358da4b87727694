"""The worker's delivery layer: which tasks, periodic jobs and loops a worker runs, each a
thin call into a use case."""
