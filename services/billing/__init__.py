"""Offers that act (docs/offers.md): billing credentials sealed at rest (`credentials`), the
Stripe and Razorpay calls through their SDKs (`providers`), and carrying out an accepted offer
exactly once (`offers`)."""
