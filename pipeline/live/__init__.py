"""`soccerspot live`: spot a match while it is broadcast (see the README section "Live spotting" and pipeline.live.session)."""
