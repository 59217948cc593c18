"""Use cases. Each public function here owns its transaction."""
