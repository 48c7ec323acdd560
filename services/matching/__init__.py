"""The matcher service: province shortlists in memory, owned by one process at a time.

``service`` runs it, ``repository`` reads and writes its rows, ``ownership`` decides which
provinces this process holds."""
