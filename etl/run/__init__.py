"""A run, in small parts: its options (``options``), where its batches come from
(``sources``), its ledger of counts, failures, progress and ``etl_runs`` row (``ledger``), one
phase per source (``workspaces``, ``batches`` for the ID file, ``datasets``, ``responses``)
sharing one streaming load loop (``stream``), and the runner that puts them in order
(``runner``). ``etl.job.sync`` is the way in."""
