"""intercom-hitl-slack: answer Intercom Fin's Human-in-the-Loop steps from Slack."""
