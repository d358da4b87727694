"""Payment gateways: Stripe, and paying at the venue."""
