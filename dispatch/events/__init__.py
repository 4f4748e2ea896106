"""事件: reporting an event from the phone (idempotent), and reading events and their history."""
