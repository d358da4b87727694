"""Calendar adapters: one module per provider, each implementing
`slotwise.domain.calendars.CalendarProvider`."""
