"""Border Coordination Hub: a real-time coordination hub for border crossing points."""
