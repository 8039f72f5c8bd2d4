"""Everything that speaks Intercom: webhook verification and parsing, the callback client, links."""
