"""Everything that speaks Slack: Block Kit, Bolt listeners and the form mapping."""
