"""Pure analyses over trajectories; each returns a results object with ``to_dict()`` and
``plot(ax)`` and never writes files by itself."""
