"""slotwise: self-hostable booking and scheduling."""
