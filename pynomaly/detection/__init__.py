"""Detection: the public functions (:mod:`.api`) and what they return (:mod:`.results`)."""
