"""`soccerspot live`: spot a match while it is broadcast (see docs/live.md and pipeline.live.session)."""
