"""Webhook ingestion (docs/webhooks.md): signature verification per provider (`verify`), the pure mapping
from a provider's payload to a normalized action (`mapping`), and the intake that stores verified
deliveries with group commit and hands them to the project's actor (`intake`)."""
